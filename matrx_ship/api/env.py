"""A service's environment: masked values, the answer of a change, one revealed value."""

from __future__ import annotations

from matrx_ship.api.base import Reply
from matrx_ship.api.services import HealthGate, StepRecord


class MaskedEnv(Reply):
    service: str
    env: dict[str, str]  # every value masked


class EnvApplied(MaskedEnv):
    """The new (masked) environment after it passed the health gate."""

    health: HealthGate | None
    steps: list[StepRecord]


class Revealed(Reply):
    key: str
    value: str
