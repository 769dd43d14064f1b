"""Open problems of a service, read from its status: what a person on call should look at."""

from __future__ import annotations

from typing import Any

MEMORY_WARN_PERCENT = 90.0


def open_problems(service: dict[str, Any]) -> list[str]:
    """Sentences naming what is wrong now; empty when nothing is."""
    current = service.get("current")
    if current is None:
        return [f"{service['name']} has no container: recreate it from its spec (Actions)."]
    return [p for check in _CHECKS if (p := check(service["name"], current))]


def _not_running(name: str, c: dict[str, Any]) -> str | None:
    if c.get("state") == "running":
        return None
    why = f" with exit code {c.get('exit_code')}" if c.get("exit_code") else ""
    return f"{name} is {c.get('state')}{why}; read its logs, then start it (Actions)."


def _unhealthy(name: str, c: dict[str, Any]) -> str | None:
    if c.get("health") != "unhealthy":
        return None
    output = ((c.get("last_check") or {}).get("output") or "").strip()
    return f"{name} fails its health check" + (f": {output}" if output else ".")


def _oom(name: str, c: dict[str, Any]) -> str | None:
    return f"{name} was killed for lack of memory (OOM)." if c.get("oom_killed") else None


def _restarts(name: str, c: dict[str, Any]) -> str | None:
    n = c.get("restart_count") or 0
    return f"Docker restarted {name} {n} time(s) since it was created." if n else None


def _memory(name: str, c: dict[str, Any]) -> str | None:
    pct = (c.get("resources") or {}).get("memory_percent")
    if pct is None or pct < MEMORY_WARN_PERCENT:
        return None
    return f"{name} uses {pct:.0f} % of its memory limit."


def _error(name: str, c: dict[str, Any]) -> str | None:
    return f"Docker reports for {name}: {c['error']}" if c.get("error") else None


_CHECKS = (_not_running, _unhealthy, _oom, _restarts, _memory, _error)


def deploy_problem(newest: dict[str, Any] | None) -> str | None:
    """The service's newest deployment, when it did not end well: why, and its last lines."""
    if newest is None or newest.get("outcome") not in ("failed", "rolled_back", "interrupted"):
        return None
    evidence = newest.get("evidence") or {}
    release = newest.get("to_release") or "?"
    if newest["outcome"] == "rolled_back":
        watch = evidence.get("watch") or {}
        why = f"rolled back by the watch: {watch.get('reason') or 'it degraded'}"
        logs = watch.get("logs") or []
    elif newest["outcome"] == "interrupted":
        why, logs = f"interrupted ({evidence.get('recovery') or 'the agent stopped'})", []
    else:
        health = evidence.get("health") or {}
        error = evidence.get("error") or {}
        why = f"failed: {health.get('reason') or error.get('message') or 'see Deployments'}"
        logs = health.get("logs") or []
    tail = "; last lines: " + " | ".join(str(x) for x in logs[-3:]) if logs else ""
    return f"The last deploy ({release}) {why}{tail}. See Deployments; fix and deploy again."
