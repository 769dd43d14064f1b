"""A typed client for the agent's API (HTTP and websockets), with TLS pinning.

    client = AgentClient("https://203.0.113.7:8700", token, pinned_sha256="ab12...")
    client.services()

With ``pinned_sha256`` the client trusts exactly one certificate: it fetches the
server's certificate without sending anything, compares its SHA-256 with the pin,
and then connects with that certificate as the only trust anchor, so the token
is never sent to an impostor.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect

from matrx_ship.errors import MatrxError


class AgentError(MatrxError):
    """An error answered by the agent, or the agent not answering."""

    def __init__(
        self, status: int, code: str, message: str, hint: str, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, hint=hint, code=code, detail=detail)
        self.status = status


class PinMismatch(AgentError):
    def __init__(self, got: str, want: str) -> None:
        super().__init__(
            0,
            "pin_mismatch",
            f"The server's certificate {got[:16]}… is not the pinned {want[:16]}…",
            "Someone may be intercepting; check the break-glass certificate.",
        )


def cert_sha256(pem: str) -> str:
    """SHA-256 (hex) of a PEM certificate's DER form."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def pinned_context(host: str, port: int, pin: str, timeout: float = 5.0) -> ssl.SSLContext:
    """An SSL context trusting only the server's certificate, after checking it against the pin."""
    pem = ssl.get_server_certificate((host, port), timeout=timeout)
    got = cert_sha256(pem)
    if got != pin.lower().replace(":", ""):
        raise PinMismatch(got, pin)
    ctx = ssl.create_default_context(cadata=pem)
    ctx.check_hostname = False
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return ctx


@dataclass
class Terminal:
    """An open exec session: send keystrokes, read output until a marker, resize, close."""

    conn: ClientConnection

    def send(self, text: str) -> None:
        self.conn.send(text.encode())

    def resize(self, cols: int, rows: int) -> None:
        self.conn.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def read_until(self, marker: str, timeout: float = 10.0) -> str:
        """Output until ``marker`` appears (or the session ends); raises TimeoutError."""
        buf = ""
        while marker not in buf:
            msg = self.conn.recv(timeout=timeout)
            if isinstance(msg, str):
                buf += "\n" + msg
                if json.loads(msg).get("type") == "exit":
                    break
            else:
                buf += msg.decode(errors="replace")
        return buf

    def close(self) -> None:
        self.conn.close()


class AgentClient:
    """The agent's API as methods; errors raise AgentError with the agent's code and hint."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        pinned_sha256: str | None = None,
        timeout: float = 120.0,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        parts = urlsplit(self.base_url)
        self._ssl: ssl.SSLContext | None = None
        if pinned_sha256 and parts.scheme == "https":
            self._ssl = pinned_context(
                parts.hostname or "", parts.port or 443, pinned_sha256, timeout=min(timeout, 10.0)
            )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            verify=self._ssl if self._ssl else verify,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """Send a request; JSON back, or AgentError."""
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise AgentError(
                0,
                "unreachable",
                f"The agent at {self.base_url} did not answer: {exc}",
                "Check that the agent runs and the address is right.",
            ) from exc
        if r.status_code >= 400:
            raise _error(r)
        if r.headers.get("content-type", "").startswith("application/json"):
            return r.json()
        return r.text

    def _ws_url(self, path: str, params: dict[str, Any]) -> str:
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{scheme}{self.base_url[self.base_url.index(':') :]}{path}" + (
            f"?{query}" if query else ""
        )

    def websocket(self, path: str, **params: Any) -> ClientConnection:
        """Open an authenticated websocket to the agent."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        ssl_ctx: ssl.SSLContext | None = self._ssl
        if ssl_ctx is None and self.base_url.startswith("https"):
            ssl_ctx = ssl.create_default_context()
        return connect(
            self._ws_url(path, params),
            additional_headers=headers,
            ssl=ssl_ctx,
            open_timeout=10,
            max_size=2**22,
        )

    # --- health -------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        return self.request("GET", "/healthz")

    def readyz(self) -> dict[str, Any]:
        try:
            return self.request("GET", "/readyz")
        except AgentError as exc:
            if exc.status == 503 and "checks" in exc.detail:
                return exc.detail
            raise

    def metrics(self) -> str:
        return self.request("GET", "/metrics")

    # --- services -----------------------------------------------------------------------

    def services(self) -> dict[str, Any]:
        return self.request("GET", "/v1/services")

    def service(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/services/{name}")

    def create_service(self, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.request("POST", "/v1/services", json=spec, params=_drop(timeout=timeout))

    def update_service(self, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.request(
            "PUT",
            f"/v1/services/{spec['name']}",
            json=spec,
            params=_drop(timeout=timeout),
        )

    def delete_service(self, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/services/{name}")

    def lifecycle(self, name: str, action: str, **params: Any) -> dict[str, Any]:
        """start, stop, restart or recreate; returns once healthy (or raises why not)."""
        return self.request("POST", f"/v1/services/{name}/{action}", params=_drop(**params))

    def logs(self, name: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", f"/v1/services/{name}/logs", params=_drop(**params))

    def follow_logs(self, name: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield live log lines (dicts) until the container stops or the caller stops."""
        with self.websocket(f"/v1/services/{name}/logs/follow", **params) as ws:
            for message in ws:
                item = json.loads(message)
                yield item
                if item.get("type") == "end":
                    return

    @contextmanager
    def terminal(
        self, name: str, shell: str = "/bin/sh", cols: int = 80, rows: int = 24
    ) -> Iterator[Terminal]:
        """An interactive terminal in the service's container."""
        with self.websocket(f"/v1/services/{name}/exec", shell=shell, cols=cols, rows=rows) as conn:
            yield Terminal(conn)

    # --- releases, deploys, jobs -----------------------------------------------------------

    def build(self, name: str, ref: str | None = None) -> dict[str, Any]:
        """Start a build of the service's git source (branch head, or ``ref``); returns the job."""
        return self.request("POST", f"/v1/services/{name}/builds", json=_drop(ref=ref))

    def register_image(self, name: str, image: str) -> dict[str, Any]:
        """Record an image already on the host as a release; returns the job."""
        return self.request("POST", f"/v1/services/{name}/releases", json={"image": image})

    def backup(self, name: str) -> dict[str, Any]:
        """Start a backup of the service; returns the job."""
        return self.request("POST", f"/v1/services/{name}/backups")

    def releases(self, name: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/services/{name}/releases")

    def release(self, release_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/releases/{release_id}")

    def build_log(self, release_id: str) -> str:
        return self.request("GET", f"/v1/releases/{release_id}/log")

    def pending(self, name: str) -> dict[str, Any]:
        """Commits between the running release and the head of the source branch."""
        return self.request("GET", f"/v1/services/{name}/pending")

    def deploy(self, name: str, release_id: str) -> dict[str, Any]:
        """Start a health-gated deploy of a release; returns the job."""
        return self.request("POST", f"/v1/services/{name}/deploy", json={"release_id": release_id})

    def rollback(self, name: str, release_id: str | None = None) -> dict[str, Any]:
        """Deploy the previous (or the given) kept release; returns the job."""
        return self.request(
            "POST", f"/v1/services/{name}/rollback", json=_drop(release_id=release_id)
        )

    def deployments(self, **filters: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/deployments", params=_drop(**filters))

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/jobs", params=_drop(**filters))

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")

    def job_events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every event of a job from its start, live, until its 'end' event."""
        with self.websocket(f"/v1/jobs/{job_id}/events") as ws:
            for message in ws:
                item = json.loads(message)
                yield item
                if item.get("kind") == "end":
                    return

    def wait_job(self, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
        """Block until the job ends; returns it (check its ``status``)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] not in ("queued", "running"):
                return job
            if time.monotonic() > deadline:
                raise AgentError(
                    0,
                    "timeout",
                    f"The job {job_id} is still {job['status']}.",
                    "Follow it with GET /v1/jobs/{id} or its events.",
                )
            time.sleep(0.2)

    def routes(self) -> dict[str, Any]:
        return self.request("GET", "/v1/routes")

    # --- tokens, audit, host ---------------------------------------------------------------

    def create_token(
        self, name: str, scope: str, expires_in_days: int | None = None
    ) -> dict[str, Any]:
        body = _drop(name=name, scope=scope, expires_in_days=expires_in_days)
        return self.request("POST", "/v1/tokens", json=body)

    def whoami(self) -> dict[str, Any]:
        """The name and scope of this client's token."""
        return self.request("GET", "/v1/whoami")

    def exec_ticket(self, name: str) -> dict[str, Any]:
        """A one-use ticket for a browser to open the service's terminal (admin)."""
        return self.request("POST", f"/v1/services/{name}/exec-ticket")

    def tokens(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/tokens")

    def revoke_token(self, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/tokens/{name}")

    def audit(self, **filters: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/audit", params=_drop(**filters))

    def host(self) -> dict[str, Any]:
        return self.request("GET", "/v1/host")

    def host_networks(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/host/networks")

    def host_images(self) -> dict[str, Any]:
        return self.request("GET", "/v1/host/images")

    def reconcile_plan(self) -> dict[str, Any]:
        """What a reconcile would do now (``steps``, ``nothing_to_do``); changes nothing."""
        return self.request("GET", "/v1/system/reconcile")

    def reconcile(self) -> dict[str, Any]:
        """Start the reconcile job (admin): the host is made to match the store."""
        return self.request("POST", "/v1/system/reconcile")

    def local_state(self) -> dict[str, Any]:
        """What exists only on this host (``items``: kind, name, risk, since, action, page)."""
        return self.request("GET", "/v1/system/local-state")


def _drop(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _error(r: httpx.Response) -> AgentError:
    try:
        body = r.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or "error" not in body:
        detail = body if isinstance(body, dict) else {}
        return AgentError(r.status_code, "http_error", f"HTTP {r.status_code}", "", detail)
    return AgentError(
        r.status_code,
        body["error"],
        body.get("message", ""),
        body.get("hint", ""),
        body.get("detail"),
    )
