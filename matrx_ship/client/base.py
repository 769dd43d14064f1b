"""The client's transport and errors: HTTP and websockets to the agent, TLS pinning."""

from __future__ import annotations

import hashlib
import json
import ssl
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from websockets.sync.client import ClientConnection, connect

from matrx_ship.errors import MatrxError

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


class Transport:
    """How the client talks to the agent: HTTP with the token (pinned TLS), JSON or a model
    back, websockets; errors raise AgentError with the agent's code and hint."""

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

    def __enter__(self) -> Self:
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
