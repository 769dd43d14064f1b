"""A probe target's state and the escalation ladder a down target climbs (pure).

A target (the agent, the manager console, a public route) moves between three states on
consecutive failures; one success makes it healthy again:

    healthy ──fail──▶ degraded ──(down_after failures in a row)──▶ down
       ▲                                                             │
       └──────────────────────────── ok ─────────────────────────────┘

A down target climbs a ladder, one step per failing probe round (for the manager:
alert, restart, roll back, tell a human). Each step is taken by exactly one probe run:
the one whose conditional UPDATE on the target's row takes the lease
(`lambdas.common.records.ProbeStore.acquire`), so overlapping invocations never both escalate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any


class TargetState(StrEnum):
    healthy = "healthy"
    degraded = "degraded"
    down = "down"


@dataclass(frozen=True)
class Thresholds:
    """Consecutive failures that make a target degraded, then down."""

    degraded_after: int = 1
    down_after: int = 2


def state_for(failures: int, thresholds: Thresholds) -> TargetState:
    """The state a target is in after `failures` consecutive failed probes."""
    if failures >= thresholds.down_after:
        return TargetState.down
    if failures >= thresholds.degraded_after:
        return TargetState.degraded
    return TargetState.healthy


class Step(IntEnum):
    """Escalation steps; a target's `escalation_step` is the last one taken."""

    none = 0
    alert = 1
    restart = 2
    rollback = 3
    human = 4


MANAGER_LADDER = (Step.alert, Step.restart, Step.rollback, Step.human)
ALERT_ONLY = (Step.alert,)


def next_step(taken: int, ladder: tuple[Step, ...]) -> Step | None:
    """The step after `taken` on `ladder`, or None when the ladder is done."""
    later = [s for s in ladder if s > taken]
    return later[0] if later else None


SUCCESSFUL_DEPLOYMENTS = frozenset({"succeeded", "success"})


def last_healthy_release(
    deployments: Iterable[Mapping[str, Any]], current: str | None
) -> str | None:
    """The newest release a successful deployment put live, other than `current`.

    `deployments` are the agent's (GET /v1/deployments?service=…), in any order.
    """
    good = [
        d
        for d in deployments
        if d.get("outcome") in SUCCESSFUL_DEPLOYMENTS
        and d.get("to_release")
        and d.get("to_release") != current
    ]
    good.sort(key=lambda d: str(d.get("finished_at") or d.get("started_at") or ""), reverse=True)
    return str(good[0]["to_release"]) if good else None
