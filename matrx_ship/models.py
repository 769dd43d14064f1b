"""The domain model shared by the agent, the client, the Lambdas and the console."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from matrx_ship.envtext import valid_key
from matrx_ship.traefik import RouteSpec

_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?")
_IMAGE = re.compile(
    r"[a-z0-9][a-z0-9._/-]{0,200}(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[a-f0-9]{64})?"
)
_HTTP_PATH = re.compile(r"/[A-Za-z0-9._~/?=&%-]{0,200}")
_LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9._/-]{0,127}")
_VOLUME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}")
RESERVED_LABEL_PREFIX = "matrx."


def valid_name(value: str) -> str:
    """A service or network name: lowercase ASCII, digits, single dashes, 1-40 chars."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or "--" in value:
        raise ValueError(
            "a name is 1-40 characters of lowercase letters, digits and single dashes, "
            "starting with a letter and not ending with a dash"
        )
    return value


def _matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not a valid {what}: {value[:80]!r}")
        return value

    return AfterValidator(check)


Name = Annotated[str, AfterValidator(valid_name)]
Image = Annotated[str, _matches(_IMAGE, "image reference")]
VolumeName = Annotated[str, _matches(_VOLUME, "volume name")]


class Scope(StrEnum):
    """Token scopes, each including the ones before it: read < operate < admin."""

    read = "read"
    operate = "operate"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ["read", "operate", "admin"].index(self.value)

    def allows(self, needed: Scope) -> bool:
        """True when this scope is at least ``needed``."""
        return self.rank >= needed.rank


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortSpec(Strict):
    container: int = Field(ge=1, le=65535)
    host: int | None = Field(None, ge=1, le=65535)
    host_ip: Literal["127.0.0.1", "0.0.0.0", "::1"] = "127.0.0.1"
    protocol: Literal["tcp", "udp"] = "tcp"


class VolumeSpec(Strict):
    source: VolumeName = Field(description="A named Docker volume, created when missing.")
    target: str = Field(pattern=r"^/[A-Za-z0-9._/-]{0,200}$")
    read_only: bool = False

    @model_validator(mode="after")
    def _no_parent(self) -> VolumeSpec:
        if ".." in self.target.split("/"):
            raise ValueError("a volume target may not contain '..'")
        return self


class DeployWatch(Strict):
    """After a deploy goes live, how long the agent keeps watching it, and what degrades it:
    any of these inside the window rolls it back to the release that was live before."""

    window_s: float = Field(default=300.0, ge=0, le=86400, description="0: no watch.")
    interval_s: float = Field(default=2.0, ge=0.5, le=60, description="Seconds between checks.")
    unhealthy_checks: int = Field(
        default=3, ge=1, le=100, description="Failed health checks in a row that degrade it."
    )
    max_restarts: int = Field(
        default=0, ge=0, le=100, description="Restarts tolerated in the window."
    )


class HealthCheck(Strict):
    """Either an HTTP GET on a container port, or a command run inside the container."""

    http_path: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    command: list[str] | None = Field(None, min_length=1, max_length=32)
    interval_s: float = Field(5.0, ge=0.5, le=3600)
    timeout_s: float = Field(3.0, ge=0.5, le=600)
    retries: int = Field(3, ge=1, le=100)
    start_period_s: float = Field(0.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheck:
        if (self.http_path is None) == (self.command is None):
            raise ValueError("a health check has either http_path (with port) or command")
        if self.http_path is not None:
            if self.port is None:
                raise ValueError("an HTTP health check needs the container port")
            if not _HTTP_PATH.fullmatch(self.http_path):
                raise ValueError("http_path must start with '/' and use URL-safe characters")
        return self

    def docker_test(self) -> list[str]:
        """The Docker HEALTHCHECK test for this check."""
        if self.command is not None:
            return ["CMD", *self.command]
        url = f"http://127.0.0.1:{self.port}{self.http_path}"
        t = max(1, int(self.timeout_s))
        return [
            "CMD-SHELL",
            # no wget -T: static busybox builds crash on it; Docker enforces timeout_s anyway
            f"wget -q -O /dev/null '{url}' || curl -fsS -m {t} -o /dev/null '{url}'",
        ]


_REPO = re.compile(
    r"(?:https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._~/%+-]+"
    r"|ssh://[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._~/%+-]+"
    r"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/%+-]+"
    r"|/[A-Za-z0-9._~/+-]+)"
)
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_REL_PATH = re.compile(r"[A-Za-z0-9._-][A-Za-z0-9._/-]{0,199}")


def _relative(value: str) -> str:
    if not _REL_PATH.fullmatch(value) or ".." in value.split("/") or value.endswith(".lock"):
        raise ValueError(f"'{value[:80]}' must be a plain path inside the repository")
    return value


class GitSource(Strict):
    """Where a service's releases are built from."""

    repo: str = Field(description="https://, ssh://, git@host:path, or an absolute local path")
    branch: str = "main"
    dockerfile: Annotated[str, AfterValidator(_relative)] = "Dockerfile"
    context: Annotated[str, AfterValidator(_relative)] = "."
    build_args: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> GitSource:
        if not _REPO.fullmatch(self.repo):
            raise ValueError(
                "repo must be an https://, ssh:// or git@host:path URL, or an absolute path"
            )
        if not _BRANCH.fullmatch(self.branch) or ".." in self.branch:
            raise ValueError(f"'{self.branch[:80]}' is not a valid branch name")
        for key, value in self.build_args.items():
            if not valid_key(key) or len(value) > 4096 or "\x00" in value:
                raise ValueError(f"build arg {key[:80]!r} has an invalid name or value")
        return self


class DatabaseSpec(Strict):
    """A dedicated PostgreSQL container for the service (``<service>-db``)."""

    image: Image | None = Field(None, description="Default: the MATRX_POSTGRES_IMAGE setting.")
    db: str = Field("app", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    user: str = Field("app", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    memory_mb: int | None = Field(None, ge=64, le=1_048_576)


class ServiceSpec(Strict):
    """What the agent runs for one service."""

    name: Name
    kind: Literal["manager", "app", "database", "infra"] = "app"
    image: Image
    command: list[str] | None = Field(None, max_length=64)
    env: dict[str, str] = Field(default_factory=dict)
    ports: list[PortSpec] = Field(default_factory=list, max_length=32)
    volumes: list[VolumeSpec] = Field(default_factory=list, max_length=32)
    networks: list[Name] = Field(default_factory=lambda: ["proxy"], max_length=8)
    restart_policy: Literal["no", "always", "unless-stopped", "on-failure"] = "unless-stopped"
    cpus: float | None = Field(None, gt=0, le=256)
    memory_mb: int | None = Field(None, ge=6, le=1_048_576)
    health: HealthCheck | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    source: GitSource | None = Field(None, description="Build releases from this git source.")
    database: DatabaseSpec | None = Field(None, description="Give the service its own Postgres.")
    routes: list[RouteSpec] = Field(default_factory=list, max_length=32)
    watch: DeployWatch = Field(
        default_factory=lambda: DeployWatch(),
        description="The watch after each deploy (rollback).",
    )

    @model_validator(mode="after")
    def _check_maps(self) -> ServiceSpec:
        for key, value in self.env.items():
            if not valid_key(key):
                raise ValueError(f"not a valid environment variable name: {key[:80]!r}")
            if len(value) > 32_768 or "\x00" in value:
                raise ValueError(f"the value of {key} is too long or holds a NUL byte")
        for key, value in self.labels.items():
            if not _LABEL_KEY.fullmatch(key) or key.startswith(RESERVED_LABEL_PREFIX):
                raise ValueError(f"label {key[:80]!r} is invalid or uses the reserved 'matrx.'")
            if len(value) > 1024:
                raise ValueError(f"label {key} is longer than 1024 characters")
        return self

    def masked(self) -> dict[str, Any]:
        """The spec as JSON with every env value masked."""
        data = self.model_dump(mode="json")
        data["env"] = {k: mask(v) for k, v in self.env.items()}
        return data


def mask(value: str) -> str:
    """What a person sees instead of a secret value."""
    return "••••••" if value else ""


class TokenInfo(BaseModel):
    name: str
    scope: Scope
    created_at: datetime
    created_by: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


Outcome = Literal["allowed", "denied", "failed"]


def outcome_for(status: int) -> Outcome:
    """The audit outcome of an HTTP status: denied for 401/403, failed for other errors."""
    if status < 400:
        return "allowed"
    return "denied" if status in (401, 403) else "failed"


class AuditEvent(BaseModel):
    id: int | None = None
    at: datetime
    actor: str
    action: str
    target: str
    outcome: Outcome
    status: int
    detail: dict[str, Any] = Field(default_factory=dict)
