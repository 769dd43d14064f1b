"""A typed client for the agent's API (HTTP and websockets), with TLS pinning.

    client = AgentClient("https://203.0.113.7:8700", token, pinned_sha256="ab12...")
    client.databases().databases[0].state
    client.services()["services"]

The backups, databases, environment, host, routes, pending, token and exec-ticket
methods return the
models of ``matrx_ship.api`` (the routes' own ``response_model``s, so a drift fails at
the agent's tests and here). The service, release, deployment, job, log and audit
methods still return the JSON as dicts of the same shapes: their callers (the Lambdas,
bench/ and the engine tests) read them as dicts, and move to the models one by one.

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
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from websockets.sync.client import ClientConnection, connect

from matrx_ship.api.backups import Backup
from matrx_ship.api.databases import (
    DatabaseAudit,
    DatabaseList,
    DatabaseStatus,
    QueryResult,
    Repaired,
    Schemas,
    Table,
)
from matrx_ship.api.env import EnvApplied, MaskedEnv, Revealed
from matrx_ship.api.host import HostSummary, Images, Network
from matrx_ship.api.jobs import Job
from matrx_ship.api.releases import Pending, RoutesReport
from matrx_ship.api.tokens import ExecTicket
from matrx_ship.errors import MatrxError
from matrx_ship.models import TokenInfo

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


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

    def fetch(self, model: type[M], method: str, path: str, **kw: Any) -> M:
        """Send a request; the JSON answer as ``model``, or AgentError (also for an answer
        of another shape, say from an agent of another version)."""
        return self._shaped(TypeAdapter(model), method, path, **kw)

    def fetch_list(self, model: type[M], method: str, path: str, **kw: Any) -> list[M]:
        """Send a request; the JSON list answered, each item as ``model``."""
        items: TypeAdapter[list[M]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        return self._shaped(items, method, path, **kw)

    def _shaped(self, shape: TypeAdapter[T], method: str, path: str, **kw: Any) -> T:
        answer = self.request(method, path, **kw)
        try:
            return shape.validate_python(answer)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the body"
            raise AgentError(
                0,
                "unexpected_answer",
                f"The agent's answer to {method} {path} is not what this client expects: "
                f"{where}: {first['msg']}.",
                "Run an agent and a client (console, Lambdas) of the same version.",
            ) from exc

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

    def releases(self, name: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/services/{name}/releases")

    def release(self, release_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/releases/{release_id}")

    def build_log(self, release_id: str) -> str:
        return self.request("GET", f"/v1/releases/{release_id}/log")

    def pending(self, name: str) -> Pending:
        """Commits between the running release and the head of the source branch."""
        return self.fetch(Pending, "GET", f"/v1/services/{name}/pending")

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

    def routes(self) -> RoutesReport:
        """Routes from the specs, what Traefik loaded, and a real request through each one."""
        return self.fetch(RoutesReport, "GET", "/v1/routes")

    # --- backups ------------------------------------------------------------------------

    def backup(self, name: str) -> Job:
        """Start a backup of the service; returns the job (with its ``backup_id``)."""
        return self.fetch(Job, "POST", f"/v1/services/{name}/backups")

    def service_backups(
        self, name: str, status: str | None = None, limit: int | None = None
    ) -> list[Backup]:
        """The service's backups, newest first (also after the service was deleted)."""
        params = _drop(status=status, limit=limit)
        return self.fetch_list(Backup, "GET", f"/v1/services/{name}/backups", params=params)

    def backups(self, **filters: Any) -> list[Backup]:
        """Every backup, newest first; filters: service, kind, status, limit."""
        return self.fetch_list(Backup, "GET", "/v1/backups", params=_drop(**filters))

    def get_backup(self, backup_id: str) -> Backup:
        return self.fetch(Backup, "GET", f"/v1/backups/{backup_id}")

    def verify_backup(self, backup_id: str) -> Job:
        """Start a verification (every part, and the dump into a scratch Postgres)."""
        return self.fetch(Job, "POST", f"/v1/backups/{backup_id}/verify")

    def restore(self, backup_id: str, keep_old: bool = False, timeout: float | None = None) -> Job:
        """Start a restore beside the live service, checked, then swapped; returns the job."""
        return self.fetch(
            Job,
            "POST",
            f"/v1/backups/{backup_id}/restore",
            json={"keep_old": keep_old},
            params=_drop(timeout=timeout),
        )

    def system_backup(self) -> Job:
        """Start a backup of the state store's tables and Traefik's config (admin)."""
        return self.fetch(Job, "POST", "/v1/system/backups")

    def system_backups(self, status: str | None = None, limit: int | None = None) -> list[Backup]:
        params = _drop(status=status, limit=limit)
        return self.fetch_list(Backup, "GET", "/v1/system/backups", params=params)

    # --- databases ----------------------------------------------------------------------

    def databases(self) -> DatabaseList:
        """Every service that declares a database, with its container's state."""
        return self.fetch(DatabaseList, "GET", "/v1/databases")

    def database_audit(self, service: str | None = None) -> DatabaseAudit:
        """Each database checked end to end, plus apps that seem to lack one."""
        return self.fetch(
            DatabaseAudit, "GET", "/v1/databases/audit", params=_drop(service=service)
        )

    def database(self, service: str) -> DatabaseStatus:
        return self.fetch(DatabaseStatus, "GET", f"/v1/databases/{service}")

    def database_schemas(self, service: str) -> Schemas:
        return self.fetch(Schemas, "GET", f"/v1/databases/{service}/schemas")

    def database_table(self, service: str, schema: str, table: str) -> Table:
        return self.fetch(Table, "GET", f"/v1/databases/{service}/tables/{schema}/{table}")

    def query(
        self, service: str, sql: str, limit: int = 100, timeout_s: float = 10.0
    ) -> QueryResult:
        """One read-only statement (operate; audited with its text)."""
        body = {"sql": sql, "limit": limit, "timeout_s": timeout_s}
        return self.fetch(QueryResult, "POST", f"/v1/databases/{service}/query", json=body)

    def repair_database(self, service: str) -> Repaired:
        """Recreate what is missing (data kept) and give the app a working DATABASE_URL."""
        return self.fetch(Repaired, "POST", f"/v1/databases/{service}/repair")

    # --- environment --------------------------------------------------------------------

    def env(self, name: str) -> MaskedEnv:
        """The service's variables, values masked."""
        return self.fetch(MaskedEnv, "GET", f"/v1/services/{name}/env")

    def change_env(
        self,
        name: str,
        set: dict[str, str] | None = None,
        unset: list[str] | None = None,
        timeout: float | None = None,
    ) -> EnvApplied:
        """Set and unset variables, applied through the health gate."""
        body = {"set": set or {}, "unset": unset or []}
        return self.fetch(
            EnvApplied,
            "PUT",
            f"/v1/services/{name}/env",
            json=body,
            params=_drop(timeout=timeout),
        )

    def import_env(
        self, name: str, dotenv: str, replace: bool = False, timeout: float | None = None
    ) -> EnvApplied:
        """Merge (or replace with) the variables of a .env text, then apply them."""
        return self.fetch(
            EnvApplied,
            "POST",
            f"/v1/services/{name}/env/import",
            json={"dotenv": dotenv, "replace": replace},
            params=_drop(timeout=timeout),
        )

    def reveal_env(self, name: str, key: str) -> Revealed:
        """One variable's value (admin; audited with the key, never the value)."""
        return self.fetch(Revealed, "GET", f"/v1/services/{name}/env/{key}/reveal")

    def export_env(self, name: str) -> str:
        """The variables as a .env text with their values (admin; audited)."""
        return str(self.request("GET", f"/v1/services/{name}/env/export"))

    # --- tokens, audit, host ---------------------------------------------------------------

    def create_token(
        self, name: str, scope: str, expires_in_days: int | None = None
    ) -> dict[str, Any]:
        body = _drop(name=name, scope=scope, expires_in_days=expires_in_days)
        return self.request("POST", "/v1/tokens", json=body)

    def whoami(self) -> TokenInfo:
        """The name and scope of this client's token."""
        return self.fetch(TokenInfo, "GET", "/v1/whoami")

    def exec_ticket(self, name: str) -> ExecTicket:
        """A one-use ticket for a browser to open the service's terminal (admin)."""
        return self.fetch(ExecTicket, "POST", f"/v1/services/{name}/exec-ticket")

    def tokens(self) -> list[TokenInfo]:
        return self.fetch_list(TokenInfo, "GET", "/v1/tokens")

    def revoke_token(self, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/tokens/{name}")

    def audit(self, **filters: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/audit", params=_drop(**filters))

    def host(self) -> HostSummary:
        """Engine facts, disk of / and of Docker's root, memory and load."""
        return self.fetch(HostSummary, "GET", "/v1/host")

    def host_networks(self) -> list[Network]:
        return self.fetch_list(Network, "GET", "/v1/host/networks")

    def host_images(self) -> Images:
        """Images with sizes and the services using them, and what could be reclaimed."""
        return self.fetch(Images, "GET", "/v1/host/images")

    def reconcile_plan(self) -> dict[str, Any]:
        """What a reconcile would do now (``steps``, ``nothing_to_do``); changes nothing."""
        return self.request("GET", "/v1/system/reconcile")

    def reconcile(self) -> dict[str, Any]:
        """Start the reconcile job (admin): the host is made to match the store."""
        return self.request("POST", "/v1/system/reconcile")

    def outbox(self) -> dict[str, Any]:
        """Records waiting for the store (``pending``) and those it refused (``set_aside``)."""
        return self.request("GET", "/v1/system/outbox")

    def host_settings(self) -> dict[str, Any]:
        """The settings the state store keeps for this host (no secrets)."""
        return self.request("GET", "/v1/system/settings")

    def retry_outbox(self) -> dict[str, Any]:
        """Queue the set-aside records again and flush (admin)."""
        return self.request("POST", "/v1/system/outbox/retry")

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
