"""Reaching the agent: the public path, then break-glass, and telling why neither works."""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from matrx_ship.client import AgentClient, AgentError, PinMismatch

Verdict = Literal["ok", "not_ready", "proxy_broken", "agent_down", "host_unreachable"]


@dataclass(kw_only=True)
class AgentReach:
    """How the agent answered this round, and a client on the path that worked.

    ok: the public path answers and the agent is ready; not_ready: it answers but says it
    cannot work (or refuses the token); proxy_broken: only the break-glass path answers;
    agent_down: nothing answers, but something accepts TCP connections; host_unreachable:
    neither path accepts a TCP connection.
    """

    verdict: Verdict
    path: str | None
    url: str | None
    pin: str | None
    client: AgentClient | None
    detail: dict[str, Any]
    latency_ms: float

    def action_client(self, token: str, timeout: float) -> AgentClient | None:
        """A client on the working path with a longer timeout, for restarts and jobs."""
        if self.url is None:
            return None
        return AgentClient(self.url, token, pinned_sha256=self.pin, timeout=timeout)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def tcp_open(url: str, timeout: float) -> bool:
    """True when something accepts a TCP connection at the URL's host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _try_path(
    url: str, token: str, pin: str | None, timeout: float
) -> tuple[AgentClient | None, dict[str, Any]]:
    """Healthz, then authenticated readyz, on one path; the client when healthz answered."""
    info: dict[str, Any] = {"url": url}
    try:
        client = AgentClient(url, token, pinned_sha256=pin, timeout=timeout)
    except PinMismatch as exc:
        return None, {**info, "answered": True, "error": exc.message, "code": exc.code}
    except (OSError, ssl.SSLError) as exc:
        return None, {**info, "answered": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        info["healthz"] = client.healthz()
    except AgentError as exc:
        client.close()
        return None, {**info, "answered": False, "error": exc.message[:300], "code": exc.code}
    try:
        ready = client.readyz()
        info.update(ready=bool(ready.get("ready")), checks=ready.get("checks"))
    except AgentError as exc:
        info.update(ready=False, error=exc.message[:300], code=exc.code)
    return client, {**info, "answered": True}


def reach_agent(
    *, public_url: str, breakglass_url: str, pin: str, token: str, timeout: float
) -> AgentReach:
    """Probe the agent on its public path and, at the same time, on the break-glass path
    (so a broken break-glass path is known before it is needed); use break-glass only when
    the public path fails, and tell a broken proxy from a dead host by TCP."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        glass_f = (
            pool.submit(_try_path, breakglass_url, token, pin or None, timeout)
            if breakglass_url
            else None
        )
        client, public = _try_path(public_url, token, None, timeout)
        glass_client, glass = glass_f.result() if glass_f else (None, {})
    detail: dict[str, Any] = {"public": public}
    if breakglass_url:
        detail["breakglass"] = glass
    verdict: Verdict
    if client is not None:
        verdict, path, url = ("ok" if public.get("ready") else "not_ready"), "public", public_url
        if glass_client is not None:
            glass_client.close()
    elif glass_client is not None:
        verdict, path, url, client = "proxy_broken", "breakglass", breakglass_url, glass_client
    else:
        verdict, path, url = _unreachable(public_url, breakglass_url, detail, timeout), None, None
    return AgentReach(
        verdict=verdict,
        path=path,
        url=url,
        pin=pin if path == "breakglass" and pin else None,
        client=client,
        detail={**detail, "verdict": verdict},
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _unreachable(
    public_url: str, breakglass_url: str, detail: dict[str, Any], timeout: float
) -> Verdict:
    """agent_down when either path accepts TCP, host_unreachable when neither does."""
    urls = [u for u in (public_url, breakglass_url) if u]
    with ThreadPoolExecutor(max_workers=2) as pool:
        open_ = list(pool.map(lambda u: tcp_open(u, min(timeout, 3.0)), urls))
    detail["public"]["tcp"] = open_[0]
    if breakglass_url:
        detail["breakglass"]["tcp"] = open_[1]
    else:
        detail["note"] = "no break-glass path configured: a dead proxy looks like a dead host"
    return "agent_down" if any(open_) else "host_unreachable"
