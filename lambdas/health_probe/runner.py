"""What one probe invocation works with (`Runner`), and what a round and a step report."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.common.records import ProbeStore
from lambdas.common.statestore import open_store
from lambdas.health_probe.settings import ProbeSettings
from matrx_ship.store import Store

MIN_ROUND_S = 3.0  # a round starts only with this much of the invocation left
MIN_ACTION_S = 10.0  # a restart or rollback starts only with this much left
JOB_RUNNING = ("queued", "running")


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    """One engine per state store URL for the life of a warm function."""
    return open_store(url)


@dataclass
class Runner:
    """What one invocation works with; `deadline` is on the `time.monotonic` clock."""

    settings: ProbeSettings
    store: Store
    probes: ProbeStore
    sns: Any
    token: str
    metrics: MetricsSink
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline: float = math.inf

    @classmethod
    def build(cls, settings: ProbeSettings, metrics: MetricsSink) -> Runner:
        store = _store(settings.database_url())
        probes = ProbeStore(store.engine)
        probes.check_schema()
        sns = boto3.client("sns")
        return cls(settings, store, probes, sns, settings.agent_token(), metrics)

    def left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass
class StepOutcome:
    """What one escalation step did; `hold` means it was not taken and waits a round."""

    target: str
    step: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    hold: bool = False


@dataclass
class RoundReport:
    run_id: str
    verdict: str
    results: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    manager_down: bool
    failures: int
    seconds: float
