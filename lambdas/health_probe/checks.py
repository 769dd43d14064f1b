"""The probes themselves: the agent (public and authenticated), the manager console, routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from lambdas.common.reach import AgentReach
from lambdas.common.records import ProbeResult
from lambdas.health_probe.runner import Runner
from lambdas.health_probe.settings import ProbeSettings
from matrx_ship.client import AgentClient, AgentError

# --- probes ------------------------------------------------------------------------------------


def console_ok(status: int) -> bool:
    """The console answered as itself: a page, a redirect to login, or an auth wall."""
    return status < 400 or status in (401, 403)


def route_ok(status: int) -> bool:
    """A route is served when the proxy did not answer with a 5xx for it."""
    return status < 500


@dataclass(frozen=True)
class UrlCheck:
    url: str
    ok: bool
    http_status: int | None
    latency_ms: float
    error: str | None


def check_url(url: str, timeout: float, accept: Callable[[int], bool]) -> UrlCheck:
    """One GET, no redirects followed, certificates verified."""
    started = time.perf_counter()
    if not url:
        return UrlCheck(url, False, None, 0.0, "no URL configured")
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        ms = (time.perf_counter() - started) * 1000
        return UrlCheck(url, False, None, round(ms, 1), f"{type(exc).__name__}: {exc}"[:300])
    ms = round((time.perf_counter() - started) * 1000, 1)
    ok = accept(answer.status_code)
    return UrlCheck(url, ok, answer.status_code, ms, None if ok else f"HTTP {answer.status_code}")


def agent_result(reach: AgentReach) -> ProbeResult:
    """The agent target: ok only when the public path answers and the agent is ready."""
    errors = {
        "not_ready": "the agent answers but is not ready (or refuses the token)",
        "proxy_broken": "the public path fails; the agent answers on break-glass",
        "agent_down": "the agent does not answer; the host accepts connections",
        "host_unreachable": "neither path accepts a TCP connection",
    }
    return ProbeResult(
        target="agent",
        kind="agent",
        ok=reach.verdict == "ok",
        url=reach.detail["public"]["url"],
        path=reach.path,
        latency_ms=reach.latency_ms,
        error=errors.get(reach.verdict),
        detail=reach.detail,
    )


def agent_view(client: AgentClient | None, name: str) -> dict[str, Any]:
    """The agent's view of the manager service: state, health, running release."""
    if client is None:
        return {"known": False, "error": "the agent does not answer"}
    try:
        status = client.service(name)["status"]
    except AgentError as exc:
        return {"known": False, "error": exc.message, "code": exc.code}
    current = status.get("current") or {}
    view = {
        "known": True,
        "kind": status.get("kind"),
        "state": status.get("state"),
        "health": status.get("health"),
        "release": (current.get("labels") or {}).get("matrx.release"),
    }
    view["ok"] = view["state"] == "running" and view["health"] in ("healthy", "none")
    if view["kind"] != "manager":
        view["note"] = f"the service '{name}' is of kind '{view['kind']}', not 'manager'"
    return view


def manager_result(
    s: ProbeSettings, reach: AgentReach, console: Future[UrlCheck] | None
) -> ProbeResult:
    """The manager target: its console URL decides; without one, the agent's view."""
    view = agent_view(reach.client, s.manager_service)
    if console is not None:
        c = console.result()
        return ProbeResult(
            target="manager",
            kind="manager",
            ok=c.ok,
            url=c.url,
            path="public",
            http_status=c.http_status,
            latency_ms=c.latency_ms,
            error=c.error,
            detail={"agent_view": view},
        )
    ok = view.get("ok") if view["known"] else None
    error = None if ok else (view.get("error") or f"state {view.get('state')}")
    return ProbeResult(
        target="manager",
        kind="manager",
        ok=ok,
        path="agent",
        error=error,
        detail={"agent_view": view},
    )


def probe_routes(
    r: Runner, reach: AgentReach, pool: ThreadPoolExecutor, timeout: float
) -> list[ProbeResult]:
    """Each public route the agent lists (or, when it cannot say, the routes seen before)."""
    urls, notes = _route_urls(r, reach)
    skip = {r.settings.agent_url, r.settings.manager_console_url}
    urls = {url: meta for url, meta in urls.items() if url not in skip}
    checks = {url: pool.submit(check_url, url, timeout, route_ok) for url in urls}
    results = [
        ProbeResult(
            target=f"route:{url}"[:200],
            kind="route",
            ok=c.ok,
            url=url,
            path="public",
            http_status=c.http_status,
            latency_ms=c.latency_ms,
            error=c.error,
            detail=urls[url],
        )
        for url, c in ((url, f.result()) for url, f in checks.items())
    ]
    return notes + results


def _route_urls(
    r: Runner, reach: AgentReach
) -> tuple[dict[str, dict[str, Any]], list[ProbeResult]]:
    known = {t.url: {"source": "store"} for t in r.probes.targets(kind="route") if t.url}
    if reach.client is None:
        return known, []
    try:
        routes = reach.client.routes().routes
        listed = [route.model_dump(mode="json", exclude_unset=True) for route in routes]
    except AgentError as exc:
        note = ProbeResult(
            target="routes",
            kind="routes",
            ok=None,
            error=f"the agent could not list its routes ({exc.code}): {exc.message}"[:300],
            detail={"status": exc.status},
        )
        return known, [note]
    urls = {route_url(x): x for x in listed}
    return {url: {**x, "source": "agent"} for url, x in urls.items() if url}, []


def route_url(route: dict[str, Any]) -> str | None:
    """A listed route's public URL: its `url`, or https://host/path_prefix."""
    if route.get("url"):
        return str(route["url"])
    if not route.get("host"):
        return None
    scheme = "https" if route.get("tls", True) else "http"
    return f"{scheme}://{route['host']}{route.get('path_prefix') or '/'}"
