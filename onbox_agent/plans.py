"""Pure plans for lifecycle changes: what to do, as a list of steps, before doing it.

``plan_replace`` is the health-gated swap used by create, update and force-recreate:
the candidate starts beside the running container and only replaces it once
healthy. When the spec publishes host ports the two cannot run side by side, so
the old one is stopped first and started again if the candidate fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal[
    "ensure_image", "create", "start", "wait_healthy", "detach", "stop", "remove", "restart"
]


@dataclass(frozen=True)
class Step:
    action: Action
    target: str  # a container name, or "candidate"


@dataclass(frozen=True)
class ContainerRef:
    name: str
    running: bool


def plan_replace(current: list[ContainerRef], host_ports: bool) -> list[Step]:
    """Steps that put a new container from the spec live, health-gated."""
    running = [c for c in current if c.running]
    stopped = [c for c in current if not c.running]
    steps = [Step("ensure_image", "candidate")]
    if host_ports:
        steps += [Step("stop", c.name) for c in running]
        steps += [Step("create", "candidate"), Step("start", "candidate")]
        steps += [Step("wait_healthy", "candidate")]
    else:
        steps += [Step("create", "candidate"), Step("start", "candidate")]
        steps += [Step("wait_healthy", "candidate")]
        steps += [Step("detach", c.name) for c in running]
        steps += [Step("stop", c.name) for c in running]
    steps += [Step("remove", c.name) for c in running + stopped]
    return steps


def plan_start(current: ContainerRef | None) -> list[Step]:
    """Start a stopped container and wait for it; nothing when it already runs."""
    if current is None:
        return [
            Step("ensure_image", "candidate"),
            Step("create", "candidate"),
            Step("start", "candidate"),
            Step("wait_healthy", "candidate"),
        ]
    if current.running:
        return []
    return [Step("start", current.name), Step("wait_healthy", current.name)]


def plan_stop(current: ContainerRef | None) -> list[Step]:
    """Stop the running container; nothing when it is already stopped."""
    if current is None or not current.running:
        return []
    return [Step("stop", current.name)]


def plan_restart(current: ContainerRef) -> list[Step]:
    """Restart in place and wait for health again."""
    return [Step("restart", current.name), Step("wait_healthy", current.name)]
