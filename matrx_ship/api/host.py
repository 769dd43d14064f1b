"""The host: engine facts, disk, memory, load, networks and images."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from matrx_ship.api.base import Reply


class Engine(Reply):
    """Docker's own names for its facts (``docker info``), and the API version."""

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    ServerVersion: str | None = None
    Driver: str | None = None
    CgroupVersion: str | None = None
    KernelVersion: str | None = None
    OperatingSystem: str | None = None
    NCPU: int | None = None
    MemTotal: int | None = None
    Containers: int | None = None
    ContainersRunning: int | None = None
    ContainersStopped: int | None = None
    Images: int | None = None
    DockerRootDir: str | None = None
    api_version: str | None = None


class Disk(Reply):
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    used_percent: float


class Memory(Reply):
    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int


class Load(Reply):
    one: float = Field(alias="1m")
    five: float = Field(alias="5m")
    fifteen: float = Field(alias="15m")
    cpus: int | None = None


class HostSummary(Reply):
    docker: Engine
    disk: list[Disk]
    memory: Memory
    load: Load


class Network(Reply):
    name: str
    id: str
    driver: str | None = None
    internal: bool
    subnets: list[str | None]
    containers: list[str | None]
    managed: bool


class Image(Reply):
    id: str
    tags: list[str]
    size_bytes: int
    created: int | None = None
    used_by: list[str]
    dangling: bool


class Images(Reply):
    images: list[Image]
    dangling_reclaimable_bytes: int
