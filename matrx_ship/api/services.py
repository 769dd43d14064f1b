"""Services: their status (containers, health, resources), and the answer of a change."""

from __future__ import annotations

from matrx_ship.api.base import Reply
from matrx_ship.models import ServiceSpec


class Resources(Reply):
    """The latest stats sample of a running container."""

    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    memory_percent: float | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    block_read_bytes: int | None = None
    block_write_bytes: int | None = None
    sampled_at: str | None = None


class LastCheck(Reply):
    exit_code: int | None = None
    output: str = ""


class Container(Reply):
    """One container: identity, state, health and resource figures."""

    id: str
    name: str
    state: str | None = None
    health: str | None = None
    last_check: LastCheck | None = None
    image: str | None = None
    image_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    uptime_s: int = 0
    restart_count: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    error: str | None = None
    labels: dict[str, str] = {}
    resources: Resources | None = None
    disk_bytes: int | None = None
    volumes_bytes: int | None = None
    disk_sampled_at: str | None = None
    managed: bool | None = None


class ContainerEvent(Reply):
    at: str
    action: str | None = None
    container: str | None = None
    exit_code: str | None = None


class Probe(Reply):
    """The agent's own run of the spec's health check, just now."""

    ok: bool
    output: str
    at: str
    seconds: float


class ServiceStatus(Reply):
    """A service with its containers, the live one first."""

    name: str
    kind: str
    managed: bool
    image: str
    state: str
    health: str
    current: Container | None = None
    containers: list[Container] = []
    events: list[ContainerEvent] = []
    database: Container | None = None
    probe: Probe | None = None


class ServiceList(Reply):
    services: list[ServiceStatus]
    unmanaged: list[Container]


class ServiceDetail(Reply):
    spec: ServiceSpec  # env values masked
    status: ServiceStatus


class StepRecord(Reply):
    """One applied step of a change."""

    action: str
    target: str
    seconds: float
    ok: bool


class HealthGate(Reply):
    healthy: bool
    reason: str | None = None
    seconds: float


class Changed(Reply):
    """The answer of a change that passed the health gate."""

    service: ServiceStatus
    steps: list[StepRecord]
    health: HealthGate | None


class Deleted(Reply):
    deleted: str
    removed_containers: list[str]
    volumes_kept: bool
