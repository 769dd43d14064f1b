"""The health probe's settings, read once from the environment `cdk/stack.py` gives it."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from lambdas.common.ladder import Thresholds
from lambdas.common.settings import DeployTierSettings


class ProbeSettings(DeployTierSettings):
    """Targets, cadence, thresholds and the manager's escalation."""

    domain: str = Field("", validation_alias="MATRX_DOMAIN", description="The public domain.")
    manager_console_url: str = Field(
        "",
        validation_alias="MATRX_MANAGER_CONSOLE_URL",
        description="The manager console's public URL; unset: the agent's view of the service.",
    )
    manager_service: str = Field(
        "manager",
        validation_alias="MATRX_MANAGER_SERVICE",
        description="The agent's service of kind `manager` that the probe restarts and rolls back.",
    )
    probe_rate_minutes: int = Field(
        1,
        ge=1,
        validation_alias="MATRX_PROBE_RATE_MINUTES",
        description="Minutes between scheduled invocations (the function times out 5 s before).",
    )
    interval_s: float = Field(
        10.0,
        ge=1,
        le=60,
        validation_alias="MATRX_PROBE_INTERVAL_S",
        description="Seconds between probe rounds inside one invocation.",
    )
    degraded_after: int = Field(
        1, ge=1, validation_alias="MATRX_PROBE_DEGRADED_AFTER", description="Failures to degraded."
    )
    down_after: int = Field(
        2, ge=1, validation_alias="MATRX_PROBE_DOWN_AFTER", description="Failures in a row to down."
    )
    runbook_url: str = Field(
        "docs/runbooks/manager-down.md",
        validation_alias="MATRX_RUNBOOK_URL",
        description="Runbook sent with 'needs a human' (a URL, or the path in the repository); "
        "the agent alerts link its siblings agent-down and traefik-routing-broken.",
    )
    dr_runbook_url: str = Field(
        "docs/runbooks/disaster-recovery.md",
        validation_alias="MATRX_DR_RUNBOOK_URL",
        description="Runbook sent when the host does not answer at all.",
    )
    lease_s: float = Field(
        120.0,
        gt=0,
        validation_alias="MATRX_PROBE_LEASE_S",
        description="How long an escalation step may hold its target before another run may retry.",
    )
    action_timeout_s: float = Field(
        60.0,
        gt=0,
        validation_alias="MATRX_PROBE_ACTION_TIMEOUT_S",
        description="Longest wait for a restart to get healthy.",
    )
    rollback_wait_s: float = Field(
        120.0,
        gt=0,
        validation_alias="MATRX_PROBE_ROLLBACK_WAIT_S",
        description="Longest wait for a rollback job inside one invocation.",
    )

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> ProbeSettings:
        if self.degraded_after > self.down_after:
            raise ValueError("MATRX_PROBE_DEGRADED_AFTER must not exceed MATRX_PROBE_DOWN_AFTER")
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(degraded_after=self.degraded_after, down_after=self.down_after)

    @property
    def budget_s(self) -> float:
        """One invocation's length: the function's timeout (cdk `_probe_timeout`)."""
        return float(min(self.probe_rate_minutes * 60 - 5, 300))

    def runbook(self, name: str) -> str:
        """A sibling of the manager-down runbook (`agent-down`, `traefik-routing-broken`):
        the same folder or site, another page."""
        if "manager-down" not in self.runbook_url:
            return self.runbook_url
        return self.runbook_url.replace("manager-down", name)


@lru_cache
def get_settings() -> ProbeSettings:
    """The probe's settings, read once from the environment."""
    return ProbeSettings()  # type: ignore[call-arg]
