"""Traefik routes: one dynamic-config file per service, and live checks of each route."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from matrx_ship.models import ServiceSpec
from matrx_ship.traefik import RouteSpec, route_request_target, write_service_config
from onbox_agent.settings import AgentSettings


def write_routes(settings: AgentSettings, spec: ServiceSpec) -> bool:
    """Write (or remove) the service's route file; True when the file changed."""
    settings.routes_dir.mkdir(parents=True, exist_ok=True)
    return write_service_config(settings.routes_dir, spec.name, list(spec.routes))


def rewrite_all(settings: AgentSettings, specs: list[ServiceSpec]) -> list[str]:
    """Write every service's route file; the names of those that were missing or stale."""
    return [spec.name for spec in specs if spec.routes and write_routes(settings, spec)]


def remove_routes(settings: AgentSettings, name: str) -> bool:
    settings.routes_dir.mkdir(parents=True, exist_ok=True)
    return write_service_config(settings.routes_dir, name, [])


def _router_key(service: str, index: int) -> str:
    return f"{service}-{index}@file"


def loaded_routers(api_url: str) -> dict[str, dict[str, Any]]:
    """The HTTP routers Traefik actually loaded, by name."""
    r = httpx.get(f"{api_url.rstrip('/')}/api/http/routers", timeout=5)
    r.raise_for_status()
    return {row["name"]: row for row in r.json()}


def check_route(entrypoint: str, route: RouteSpec) -> dict[str, Any]:
    """A real request through the entrypoint with the route's Host header.

    A 404 counts as failed: it is what Traefik answers when no router matches.
    """
    host, path = route_request_target(route)
    started = time.perf_counter()
    try:
        r = httpx.get(
            f"{entrypoint.rstrip('/')}{path}",
            headers={"Host": host},
            timeout=10,
            verify=False,  # noqa: S501  the entrypoint is our own Traefik, by address
            follow_redirects=False,
        )
        return {
            "ok": r.status_code < 500 and r.status_code != 404,
            "status": r.status_code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    except httpx.HTTPError as exc:
        return {
            "ok": False,
            "status": None,
            "error": f"{type(exc).__name__}: {exc}",
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }


def routes_report(settings: AgentSettings, specs: list[ServiceSpec]) -> dict[str, Any]:
    """Routes from the specs, what Traefik loaded (when its API is set), and a live check each."""
    rows = [
        {
            "service": s.name,
            "router": _router_key(s.name, i),
            "host": r.host,
            "path_prefix": r.path_prefix,
            "port": r.port,
            "entrypoint": r.entrypoint,
            "upstream": f"http://{s.name}:{r.port}",
            "_route": r,
        }
        for s in specs
        for i, r in enumerate(s.routes)
    ]
    report: dict[str, Any] = {"routes_dir": str(settings.routes_dir), "traefik": None}
    if settings.traefik_api_url:
        report["traefik"] = _compare(settings.traefik_api_url, rows)
    if settings.traefik_entrypoint_url:
        entry = settings.traefik_entrypoint_url
        with ThreadPoolExecutor(8) as pool:
            checks = list(pool.map(lambda row: check_route(entry, row["_route"]), rows))
        for row, check in zip(rows, checks, strict=True):
            row["check"] = check
    for row in rows:
        row.pop("_route")
    report["routes"] = rows
    return report


def _compare(api_url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        loaded = loaded_routers(api_url)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return {"reachable": False, "error": f"{type(exc).__name__}: {exc}"}
    ours = {row["router"] for row in rows}
    files = {name for name in loaded if name.endswith("@file")}
    for row in rows:
        row["loaded"] = row["router"] in loaded
        row["traefik_status"] = (loaded.get(row["router"]) or {}).get("status")
    return {
        "reachable": True,
        "missing_in_traefik": sorted(ours - set(loaded)),
        "unknown_to_specs": sorted(
            f for f in files - ours if not f.startswith(("traefik-dashboard", "api"))
        ),
        "routers": len(loaded),
    }
