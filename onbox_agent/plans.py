"""Pure plans for lifecycle changes and deploys: what to do, as steps, before doing it.

The swap behind create, update, force-recreate and deploy: the candidate starts
beside the running container, without the service's network alias; once healthy it
gets the alias (``attach``), the old one loses it (``detach``), drains, and stops.
When the spec publishes host ports the two cannot run side by side, so the old one
is stopped first and started again if the candidate fails. A deploy keeps the old
container stopped for a fast rollback (``standby``) and retires older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from onbox_agent.steps import Step

Action = Literal[
    "ensure_image",
    "create",
    "reuse",
    "start",
    "wait_healthy",
    "attach",
    "detach",
    "stop",
    "remove",
    "retire",
    "restart",
]


@dataclass(frozen=True)
class ContainerRef:
    name: str
    running: bool


CANDIDATE_UP = [
    Step("start", "candidate"),
    Step("wait_healthy", "candidate"),
    Step("attach", "candidate"),
]


def _swap(running: list[ContainerRef], host_ports: bool, target: list[Step]) -> list[Step]:
    if host_ports:
        return [Step("stop", c.name) for c in running] + target + CANDIDATE_UP
    return (
        target
        + CANDIDATE_UP
        + [Step("detach", c.name) for c in running]
        + [Step("stop", c.name) for c in running]
    )


def plan_replace(current: list[ContainerRef], host_ports: bool) -> list[Step]:
    """Steps that put a new container from the spec live, health-gated; old ones removed."""
    running = [c for c in current if c.running]
    stopped = [c for c in current if not c.running]
    target = [Step("ensure_image", "candidate"), Step("create", "candidate")]
    steps = _swap(running, host_ports, target)
    return steps + [Step("remove", c.name) for c in running + stopped]


def plan_deploy(current: list[ContainerRef], standby: str | None, host_ports: bool) -> list[Step]:
    """Steps that put a release live; the old container is kept stopped, older ones retired.

    ``standby`` names a stopped container of the target release to start again
    instead of creating one (the fast rollback).
    """
    running = [c for c in current if c.running]
    target = (
        [Step("reuse", standby)]
        if standby
        else [Step("ensure_image", "candidate"), Step("create", "candidate")]
    )
    steps = _swap(running, host_ports, target)
    others = [c for c in current if not c.running and c.name != standby]
    return steps + [Step("retire", c.name) for c in others]


def plan_start(current: ContainerRef | None) -> list[Step]:
    """Start a stopped container and wait for it; nothing when it already runs."""
    if current is None:
        return [Step("ensure_image", "candidate"), Step("create", "candidate"), *CANDIDATE_UP]
    if current.running:
        return []
    return [
        Step("start", current.name),
        Step("wait_healthy", current.name),
        Step("attach", current.name),
    ]


def plan_stop(current: ContainerRef | None) -> list[Step]:
    """Stop the running container; nothing when it is already stopped."""
    if current is None or not current.running:
        return []
    return [Step("stop", current.name)]


def plan_restart(current: ContainerRef) -> list[Step]:
    """Restart in place and wait for health again."""
    return [Step("restart", current.name), Step("wait_healthy", current.name)]
