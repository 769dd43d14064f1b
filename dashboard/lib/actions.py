"""Lifecycle actions: what each one does to this service, said before it is done."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from matrx_ship.models import Scope

WAIT = "waits until it is healthy (at most the agent's MATRX_HEALTH_TIMEOUT, 60 s by default)"


@dataclass(frozen=True)
class Action:
    key: str  # the agent's verb: POST /v1/services/{name}/{key}
    label: str
    needs: Scope
    describe: Callable[[dict[str, Any]], str]


def _container(service: dict[str, Any]) -> str:
    current = service.get("current")
    return f"container `{current['name']}`" if current else "no container"


def _start(s: dict[str, Any]) -> str:
    if s.get("current") is None:
        return (
            f"**Start {s['name']}**: it has no container, so the agent creates one from the "
            f"stored spec (image `{s.get('image')}`), starts it and {WAIT}. If it never gets "
            "healthy, it is removed again."
        )
    if s["state"] == "running":
        return f"**Start {s['name']}**: it already runs ({_container(s)}); nothing will change."
    return f"**Start {s['name']}**: the agent starts the stopped {_container(s)} and {WAIT}."


def _stop(s: dict[str, Any]) -> str:
    if s["state"] != "running":
        return f"**Stop {s['name']}**: it is not running ({s['state']}); nothing will change."
    return (
        f"**Stop {s['name']}**: the agent stops {_container(s)} (SIGTERM, then SIGKILL after "
        "10 s). The service stops answering until someone starts it again; the container "
        "and its volumes are kept."
    )


def _restart(s: dict[str, Any]) -> str:
    return (
        f"**Restart {s['name']}**: the agent restarts {_container(s)} in place. It does not "
        f"answer for a few seconds; the agent then {WAIT}. The same image and settings are kept."
    )


def _recreate(s: dict[str, Any]) -> str:
    return (
        f"**Force-recreate {s['name']}**: the agent creates a new container from the stored "
        f"spec (image `{s.get('image')}`) beside {_container(s)}, {WAIT}, moves traffic to "
        "it, then removes the old one. If the new one never gets healthy, the old one keeps "
        "serving and nothing changes."
    )


ACTIONS: tuple[Action, ...] = (
    Action("start", "Start", Scope.operate, _start),
    Action("stop", "Stop", Scope.operate, _stop),
    Action("restart", "Restart", Scope.operate, _restart),
    Action("recreate", "Force-recreate", Scope.operate, _recreate),
)


def action(key: str) -> Action:
    return next(a for a in ACTIONS if a.key == key)


def summary(result: dict[str, Any]) -> str:
    """One sentence from the agent's answer to a lifecycle call."""
    steps = [f"{s['action']} {s['target']}" for s in result.get("steps") or []]
    health = result.get("health") or {}
    done = ", ".join(steps) if steps else "nothing to do"
    if health.get("healthy"):
        done += f"; healthy after {health.get('seconds')} s"
    state = (result.get("service") or {}).get("state", "?")
    return f"Done: {done}. The service is now {state}."
