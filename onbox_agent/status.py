"""What a person sees of a service: state, health, uptime, restarts and resources."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.models import ServiceSpec
from onbox_agent.engine import DATABASE_OF, MANAGED, SERVICE, probe
from onbox_agent.monitor import Monitor

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="inspect")


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return datetime.fromisoformat(value[:26].rstrip("Z") + "+00:00")


def container_view(attrs: dict[str, Any], monitor: Monitor) -> dict[str, Any]:
    """One container as JSON: identity, state, health and resource figures."""
    state = attrs.get("State") or {}
    health = state.get("Health") or {}
    started = _parse_time(state.get("StartedAt"))
    running = bool(state.get("Running"))
    volumes = [m["Name"] for m in attrs.get("Mounts") or [] if m.get("Type") == "volume"]
    cid = attrs["Id"]
    figures = monitor.figures(cid) if running else None
    if figures:
        figures.pop("_t", None)
    last = (health.get("Log") or [{}])[-1]
    return {
        "id": cid[:12],
        "name": attrs.get("Name", "").lstrip("/"),
        "state": state.get("Status"),
        "health": health.get("Status") or ("none" if running else None),
        "last_check": {
            "exit_code": last.get("ExitCode"),
            "output": (last.get("Output") or "")[-200:],
        }
        if last
        else None,
        "image": (attrs.get("Config") or {}).get("Image"),
        "image_id": attrs.get("Image"),
        "created_at": attrs.get("Created"),
        "started_at": started.isoformat() if started else None,
        "uptime_s": round((datetime.now(UTC) - started).total_seconds())
        if running and started
        else 0,
        "restart_count": attrs.get("RestartCount", 0),
        "exit_code": state.get("ExitCode"),
        "oom_killed": state.get("OOMKilled", False),
        "error": state.get("Error") or None,
        "labels": {k: v for k, v in ((attrs.get("Config") or {}).get("Labels") or {}).items()},
        "resources": figures,
        **monitor.disk(cid, volumes),
    }


def inspect_all(client: docker.DockerClient, containers: list[Container]) -> list[dict[str, Any]]:
    """Full inspect of many containers in parallel (the list call is summary only)."""

    def one(c: Container) -> dict[str, Any] | None:
        try:
            return client.api.inspect_container(str(c.id))
        except DockerNotFound:
            return None

    return [a for a in _pool.map(one, containers) if a is not None]


def _service_state(containers: list[dict[str, Any]]) -> tuple[str, str]:
    if not containers:
        return "missing", "unknown"
    live = [c for c in containers if c["state"] == "running"] or containers
    return live[0]["state"], live[0]["health"] or "unknown"


def service_view(
    spec: ServiceSpec, containers: list[dict[str, Any]], events: list[dict[str, Any]]
) -> dict[str, Any]:
    """A service with its containers, the live one first."""
    containers = sorted(containers, key=lambda c: (c["state"] != "running", c["created_at"] or ""))
    state, health = _service_state(containers)
    return {
        "name": spec.name,
        "kind": spec.kind,
        "managed": True,
        "image": spec.image,
        "state": state,
        "health": health,
        "current": containers[0] if containers else None,
        "containers": containers,
        "events": events[-10:],
    }


def all_statuses(
    client: docker.DockerClient, monitor: Monitor, specs: list[ServiceSpec]
) -> dict[str, Any]:
    """Every registered service and every unmanaged container, with fresh state."""
    listed = client.containers.list(all=True, sparse=True)
    monitor.ensure_fresh([str(c.id) for c in listed if c.attrs.get("State") == "running"])
    views = [container_view(a, monitor) for a in inspect_all(client, listed)]
    by_service: dict[str, list[dict[str, Any]]] = {}
    db_views: dict[str, dict[str, Any]] = {}  # database containers by the service they serve
    unmanaged = []
    for v in views:
        labels = v["labels"]
        if labels.get(MANAGED) == "true" and labels.get(SERVICE):
            by_service.setdefault(labels[SERVICE], []).append(v)
        elif labels.get(MANAGED) == "true" and labels.get(DATABASE_OF):
            db_views[labels[DATABASE_OF]] = v
        else:
            unmanaged.append({**v, "managed": False})
    services = [
        service_view(s, by_service.get(s.name, []), monitor.events(s.name))
        | {"database": db_views.get(s.name)}
        for s in specs
    ]
    return {"services": services, "unmanaged": unmanaged}


def one_status(client: docker.DockerClient, monitor: Monitor, spec: ServiceSpec) -> dict[str, Any]:
    """One service's status with fresh state."""
    listed = client.containers.list(
        all=True, sparse=True, filters={"label": [f"{MANAGED}=true", f"{SERVICE}={spec.name}"]}
    )
    monitor.ensure_fresh([str(c.id) for c in listed if c.attrs.get("State") == "running"])
    views = [container_view(a, monitor) for a in inspect_all(client, listed)]
    view = service_view(spec, views, monitor.events(spec.name))
    if spec.database is not None:
        dbs = client.containers.list(
            all=True, sparse=True, filters={"label": f"{DATABASE_OF}={spec.name}"}
        )
        found = [container_view(a, monitor) for a in inspect_all(client, dbs)]
        view["database"] = found[0] if found else None
    return view


def probe_now(
    client: docker.DockerClient, spec: ServiceSpec, view: dict[str, Any]
) -> dict[str, Any] | None:
    """The agent's own health probe of the live container (the spec's check, run now)."""
    current = view.get("current")
    if not current or current["state"] != "running":
        return None
    started = time.perf_counter()
    try:
        ok, output = probe(client.containers.get(current["id"]), spec)
    except DockerNotFound:
        return None
    return {
        "ok": ok,
        "output": output[-200:],
        "at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
    }
