"""Table rows, one function per kind of thing the agent reports (pure: tested by equality)."""

from __future__ import annotations

from typing import Any

from dashboard.lib import fmt
from dashboard.lib.problems import open_problems


def state_label(state: str | None, health: str | None) -> str:
    """'running · healthy' (health left out when the service has no check)."""
    if health and health not in ("none", "unknown"):
        return f"{state} · {health}"
    return f"{state}"


def service(s: dict[str, Any]) -> dict[str, Any]:
    """A service's status."""
    c = s.get("current") or {}
    figures = c.get("resources") or {}
    return {
        "service": s["name"],
        "kind": s.get("kind"),
        "state": state_label(s["state"], s["health"]),
        "uptime": fmt.duration(c.get("uptime_s")) if c else "—",
        "restarts": c.get("restart_count", 0) if c else None,
        "CPU": fmt.percent(figures.get("cpu_percent")),
        "memory": fmt.size(figures.get("memory_bytes")) if figures else "—",
        "image": s.get("image"),
        "problems": len(open_problems(s)) if s["state"] != "unknown" else None,
    }


def unmanaged(c: dict[str, Any]) -> dict[str, Any]:
    return {"container": c["name"], "state": c["state"], "image": c.get("image")}


def docker_event(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": fmt.when(e["at"]),
        "event": e["action"],
        "container": e["container"],
        "exit code": e.get("exit_code"),
    }


def audit_event(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": e["id"],
        "at": fmt.when(e["at"]),
        "who": e["actor"],
        "action": e["action"],
        "target": e["target"],
        "outcome": e["outcome"],
        "status": e["status"],
        "detail": ", ".join(f"{k}={v}" for k, v in (e.get("detail") or {}).items()),
    }


def network(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "network": n["name"],
        "driver": n["driver"],
        "managed": n["managed"],
        "internal": n["internal"],
        "subnets": ", ".join(s for s in n["subnets"] if s),
        "containers": ", ".join(n["containers"]),
    }


def image(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": ", ".join(i["tags"]) or "<none>",
        "size": fmt.size(i["size_bytes"]),
        "used by": ", ".join(i["used_by"]) or "—",
        "dangling": i["dangling"],
        "id": i["id"].removeprefix("sha256:")[:12],
    }


def release(r: dict[str, Any]) -> dict[str, Any]:
    """A release in the build history."""
    return {
        "release": r["id"],
        "live": "● live" if r.get("live") else "",
        "commit": (r.get("commit_sha") or "")[:12] or None,
        "message": (r.get("message") or "").strip().splitlines()[0] if r.get("message") else "",
        "author": r.get("author"),
        "status": r.get("status"),
        "size": fmt.size(r.get("size_bytes")) if r.get("size_bytes") else "—",
        "build time": fmt.duration(r.get("build_seconds"))
        if r.get("build_seconds") is not None
        else "—",
        "built by": r.get("started_by"),
        "created": fmt.when(r.get("created_at")),
    }


def commit(c: dict[str, Any]) -> dict[str, Any]:
    """A commit not deployed yet."""
    return {
        "commit": c["sha"][:12],
        "message": c.get("message"),
        "author": c.get("author"),
        "date": fmt.when(c.get("date")),
    }


def deployment(d: dict[str, Any]) -> dict[str, Any]:
    """A deployment or rollback in the history."""
    evidence = d.get("evidence") or {}
    return {
        "service": d["service"],
        "kind": d.get("kind"),
        "from": d.get("from_release") or "—",
        "to": d.get("to_release") or "—",
        "who": d.get("actor"),
        "when": fmt.when(d.get("started_at")),
        "duration": fmt.duration(d.get("seconds")) if d.get("seconds") is not None else "—",
        "outcome": d.get("outcome"),
        "evidence": evidence_line(evidence),
    }


def evidence_line(evidence: dict[str, Any]) -> str:
    """The deploy's evidence, one 'key: value' after another."""
    parts = []
    for key, value in evidence.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def route(r: dict[str, Any]) -> dict[str, Any]:
    """A route from the specs, what Traefik has, and the live request through it."""
    check = r.get("check")
    return {
        "service": r["service"],
        "router": r["router"],
        "host": r.get("host"),
        "path": r.get("path_prefix") or "/",
        "entrypoint": r.get("entrypoint"),
        "upstream": r.get("upstream"),
        "in Traefik": _loaded(r),
        "request": _check(check),
        "latency": f"{check['latency_ms']} ms" if check else "—",
    }


def _loaded(r: dict[str, Any]) -> str:
    if "loaded" not in r:
        return "not checked"
    if not r["loaded"]:
        return "missing"
    return f"loaded ({r.get('traefik_status') or '?'})"


def _check(check: dict[str, Any] | None) -> str:
    if not check:
        return "not checked"
    mark = "ok" if check.get("ok") else "FAILED"
    return f"{mark}: {check.get('status') or check.get('error')}"


def database(d: dict[str, Any]) -> dict[str, Any]:
    """A service's database, as the agent reports its state."""
    return {
        "service": d["service"],
        "state": state_label(d.get("state"), d.get("health")),
        "connects": d.get("connection_ok"),
        "database": d.get("database"),
        "version": d.get("server_version") or d.get("version"),
        "size": fmt.size(d.get("size_bytes")) if d.get("size_bytes") is not None else "—",
        "connections": d.get("connections"),
        "error": d.get("error"),
    }


def finding(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": f["service"],
        "severity": f["severity"],
        "problem": f["message"],
        "next step": f.get("hint"),
        "code": f["code"],
    }


def db_table(schema: str, t: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": schema,
        "name": t["name"],
        "kind": t.get("kind"),
        "rows (estimate)": t.get("row_estimate"),
        "size": fmt.size(t.get("size_bytes")),
    }


def backup(b: dict[str, Any]) -> dict[str, Any]:
    """A backup in the catalog, with its verification."""
    return {
        "backup": b["id"],
        "status": b.get("status"),
        "taken": fmt.when(b.get("created_at")),
        "trigger": b.get("trigger"),
        "who": b.get("actor"),
        "size": fmt.size(b.get("size")),
        "duration": fmt.duration(b.get("seconds")) if b.get("seconds") is not None else "—",
        "parts": ", ".join(str(p.get("kind")) for p in b.get("parts") or []),
        "verified": verification(b),
        "trusted": f"NO: {b['suspect']}" if b.get("suspect") else "yes",
    }


def verification(b: dict[str, Any]) -> str:
    v = b.get("verification")
    if not v:
        return "not verified"
    ok = v.get("ok")
    word = "ok" if ok else ("FAILED" if ok is False else "done")
    return f"{word} {fmt.when(b.get('verified_at'))}"
