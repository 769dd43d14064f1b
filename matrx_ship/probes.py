"""The deploy tier's probe records: results, per-target state, the escalation ladder, alerts.

A target (the agent, the manager console, a public route) moves between three states on
consecutive failures; one success makes it healthy again:

    healthy ──fail──▶ degraded ──(down_after failures in a row)──▶ down
       ▲                                                             │
       └──────────────────────────── ok ─────────────────────────────┘

A down target climbs a ladder, one step per failing probe round (for the manager:
alert, restart, roll back, tell a human). Each step is taken by exactly one probe run:
the one whose conditional UPDATE on the target's row takes the lease
(`ProbeStore.acquire`), so overlapping invocations never both escalate.

The tables live in the state store (migration 0003); the Lambdas reach PostgreSQL with
the pure-Python pg8000 driver (`open_store`), because their bundle cannot carry
psycopg's compiled one.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from matrx_ship.client import AgentClient, AgentError, PinMismatch
from matrx_ship.models import AuditEvent
from matrx_ship.store import Store

ACTOR = "deploy-tier"  # the audit actor of every step the deploy tier takes
TS = DateTime(timezone=True)
BIGID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

# Mirrors migration 0003 (kept apart from store/tables.py's ORM models).
probe_results = Table(
    "probe_results",
    metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("path", String(16)),
    Column("http_status", Integer),
    Column("latency_ms", Float),
    Column("error", Text),
    Column("detail", JSON, nullable=False),
)

probe_targets = Table(
    "probe_targets",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("url", String(500)),
    Column("state", String(16), nullable=False),
    Column("consecutive_failures", Integer, nullable=False),
    Column("last_checked_at", TS),
    Column("last_ok_at", TS),
    Column("state_since", TS, nullable=False),
    Column("escalation_step", Integer, nullable=False),
    Column("escalated_at", TS),
    Column("escalation", JSON, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", TS),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# --- states and the ladder (pure) --------------------------------------------------------


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


# --- results and target status ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """One probe of one target. `ok` None means skipped (nothing to judge)."""

    target: str
    kind: str
    ok: bool | None
    url: str | None = None
    path: str | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "skipped" if self.ok is None else ("ok" if self.ok else "fail")


@dataclass(frozen=True, kw_only=True)
class TargetStatus:
    """A target's row: its state, failures in a row, and how far its escalation got."""

    target: str
    kind: str
    url: str | None
    state: TargetState
    consecutive_failures: int
    state_since: datetime
    last_ok_at: datetime | None
    escalation_step: int
    escalated_at: datetime | None
    escalation: dict[str, Any]
    previous: TargetState | None = None

    @property
    def changed(self) -> bool:
        """True when the result just recorded moved the target to another state."""
        return self.previous is not None and self.previous != self.state


def _status(row: Any, previous: TargetState | None = None) -> TargetStatus:
    return TargetStatus(
        target=row.target,
        kind=row.kind,
        url=row.url,
        state=TargetState(row.state),
        consecutive_failures=row.consecutive_failures,
        state_since=_aware(row.state_since) or utcnow(),
        last_ok_at=_aware(row.last_ok_at),
        escalation_step=row.escalation_step,
        escalated_at=_aware(row.escalated_at),
        escalation=dict(row.escalation or {}),
        previous=previous,
    )


class ProbeStore:
    """Probe results and target rows in the state store; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def check_schema(self) -> None:
        """Raise a clear error when migration 0003 has not been applied."""
        names = set(inspect(self.engine).get_table_names())
        missing = {"probe_results", "probe_targets", "audit_events"} - names
        if missing:
            raise RuntimeError(
                f"the state store lacks {sorted(missing)}: start the agent once (it applies "
                "the migrations) or run `python -m lambdas.health_probe.probe --migrate`"
            )

    def record(
        self,
        result: ProbeResult,
        *,
        run_id: str,
        thresholds: Thresholds,
        at: datetime | None = None,
    ) -> TargetStatus | None:
        """Store one result and move the target's state; None for a skipped result."""
        now = at or utcnow()
        with self.engine.begin() as conn:
            conn.execute(probe_results.insert().values(**_result_row(result, run_id, now)))
            if result.ok is None:
                return None
            row = self._count(conn, result, now)
            previous = TargetState(row.state)
            state = state_for(row.consecutive_failures, thresholds)
            if state != previous:
                row = conn.execute(
                    update(probe_targets)
                    .where(probe_targets.c.target == row.target)
                    .values(state=state.value, state_since=now)
                    .returning(*probe_targets.c)
                ).one()
            return _status(row, previous)

    def _count(self, conn: Connection, result: ProbeResult, now: datetime) -> Row[Any]:
        """Create the target's row if new, then count the result in one locking UPDATE."""
        conn.execute(
            self._insert(probe_targets)
            .values(**_new_target(result, now))
            .on_conflict_do_nothing(index_elements=["target"])
        )
        t = probe_targets.c
        return conn.execute(
            update(probe_targets)
            .where(t.target == result.target[:200])
            .values(
                consecutive_failures=0 if result.ok else t.consecutive_failures + 1,
                last_checked_at=now,
                last_ok_at=now if result.ok else t.last_ok_at,
                url=result.url or t.url,
            )
            .returning(*probe_targets.c)
        ).one()

    def target(self, name: str) -> TargetStatus | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(probe_targets).where(probe_targets.c.target == name)).first()
        return _status(row) if row else None

    def targets(self, kind: str | None = None) -> list[TargetStatus]:
        stmt = select(probe_targets).order_by(probe_targets.c.target)
        if kind is not None:
            stmt = stmt.where(probe_targets.c.kind == kind)
        with self.engine.connect() as conn:
            return [_status(r) for r in conn.execute(stmt)]

    def results(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded results, newest first."""
        stmt = select(probe_results).order_by(probe_results.c.id.desc()).limit(limit)
        if target is not None:
            stmt = stmt.where(probe_results.c.target == target)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def acquire(
        self,
        target: str,
        *,
        taken: int,
        owner: str,
        lease_s: float,
        min_gap_s: float,
        now: datetime | None = None,
    ) -> bool:
        """Take the lease for the step after `taken`, if the target is still down, nobody
        holds the lease, and the last step started at least `min_gap_s` ago."""
        now = now or utcnow()
        t = probe_targets.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(probe_targets)
                .where(
                    t.target == target,
                    t.state == TargetState.down.value,
                    t.escalation_step == taken,
                    (t.lease_until.is_(None)) | (t.lease_until < now),
                    (t.escalated_at.is_(None))
                    | (t.escalated_at <= now - timedelta(seconds=min_gap_s)),
                )
                .values(
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_s),
                    escalated_at=now,
                )
            )
        return done.rowcount == 1

    def complete(self, target: str, *, owner: str, step: int, escalation: dict[str, Any]) -> bool:
        """Record the step `owner` took and give the lease back."""
        t = probe_targets.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(probe_targets)
                .where(t.target == target, t.lease_owner == owner)
                .values(
                    escalation_step=step, escalation=escalation, lease_owner=None, lease_until=None
                )
            )
        return done.rowcount == 1

    def release(self, target: str, *, owner: str) -> None:
        """Give the lease back without taking the step (it will be tried again)."""
        t = probe_targets.c
        with self.engine.begin() as conn:
            conn.execute(
                update(probe_targets)
                .where(t.target == target, t.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, escalated_at=None)
            )

    def reset(self, target: str, *, taken: int, now: datetime | None = None) -> bool:
        """End a healthy target's escalation; True for the one run that did it."""
        if taken <= 0:
            return False
        now = now or utcnow()
        t = probe_targets.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(probe_targets)
                .where(
                    t.target == target,
                    t.state == TargetState.healthy.value,
                    t.escalation_step == taken,
                    (t.lease_until.is_(None)) | (t.lease_until < now),
                )
                .values(escalation_step=0, escalation={}, escalated_at=None)
            )
        return done.rowcount == 1


def _result_row(result: ProbeResult, run_id: str, now: datetime) -> dict[str, Any]:
    return {
        "at": now,
        "run_id": run_id,
        "target": result.target[:200],
        "kind": result.kind,
        "status": result.status,
        "path": result.path,
        "http_status": result.http_status,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "detail": result.detail,
    }


def _new_target(result: ProbeResult, now: datetime) -> dict[str, Any]:
    return {
        "target": result.target[:200],
        "kind": result.kind,
        "url": result.url,
        "state": TargetState.healthy.value,
        "consecutive_failures": 0,
        "state_since": now,
        "escalation_step": 0,
        "escalation": {},
    }


# --- the state store from a Lambda ---------------------------------------------------------

_SSL_MODES = {"require", "verify-ca", "verify-full"}


def pg8000_url(url: str) -> tuple[str, dict[str, Any]]:
    """A libpq-style PostgreSQL URL as SQLAlchemy's pg8000 URL and its connect arguments.

    `sslmode=require` encrypts without checking the certificate (libpq's meaning),
    `verify-ca` checks the chain, `verify-full` the chain and the host name; other query
    parameters are dropped (pg8000 knows none of libpq's).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    mode = (parse_qs(parts.query).get("sslmode") or ["disable"])[0]
    args: dict[str, Any] = {"timeout": 10}
    if mode in _SSL_MODES:
        ctx = ssl.create_default_context()
        ctx.check_hostname = mode == "verify-full"
        if mode == "require":
            ctx.verify_mode = ssl.CERT_NONE
        args["ssl_context"] = ctx
    return urlunsplit(("postgresql+pg8000", parts.netloc, parts.path, "", "")), args


class Pg8000Store(Store):
    """The state store over pg8000, the pure-Python driver a Lambda bundle can carry.

    `Store.__init__` hands psycopg's `connect_timeout` to the driver, which pg8000 does not
    accept; this builds the same engine with pg8000's arguments instead.
    """

    def __init__(self, url: str) -> None:
        sa_url, connect_args = pg8000_url(url)
        super().__init__(sa_url, connect_args=connect_args)


def open_store(url: str) -> Store:
    """The state store at `url`: PostgreSQL through pg8000, or an SQLite file (a laptop)."""
    return Store(url) if url.startswith("sqlite") else Pg8000Store(url)


def audit_step(
    store: Store,
    *,
    action: str,
    target: str,
    ok: bool,
    detail: dict[str, Any],
    key: str,
    status: int = 0,
) -> int:
    """Write one audit event by the deploy tier; the same `key` is written only once."""
    event = AuditEvent(
        at=utcnow(),
        actor=ACTOR,
        action=action,
        target=target,
        outcome="allowed" if ok else "failed",
        status=status or (200 if ok else 500),
        detail=detail,
    )
    return store.append_audit(event, event_key=hashlib.sha256(key.encode()).hexdigest()[:64])


# --- alerts -------------------------------------------------------------------------------


class SnsPublisher(Protocol):
    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One message to the people on call."""

    subject: str
    lines: list[str]
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return "\n".join(self.lines)


def publish(sns: SnsPublisher, topic_arn: str, alert: Alert) -> str:
    """Publish an alert to the SNS topic; returns the message id."""
    attributes = {
        key: {"DataType": "String", "StringValue": value}
        for key, value in alert.attributes.items()
        if value
    }
    answer = sns.publish(
        TopicArn=topic_arn,
        Subject=_subject(alert.subject),
        Message=alert.message,
        MessageAttributes=attributes,
    )
    return str(answer["MessageId"])


def _subject(text: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean[:100]


# --- settings both functions share -------------------------------------------------------


def read_secret(arn: str) -> str:
    """A Secrets Manager value by ARN, cached for 5 minutes in a warm function."""
    from aws_lambda_powertools.utilities import parameters  # the layer's; not the agent's

    return str(parameters.get_secret(arn, max_age=300))


class DeployTierSettings(BaseSettings):
    """What both deploy-tier functions read: the agent, its token, the alarm topic, the store.

    The names are the environment `cdk/stack.py` gives the functions. A secret comes from
    Secrets Manager by ARN, or (a laptop, a benchmark) straight from its variable.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("vps1", validation_alias="MATRX_HOST", description="The host's name.")
    agent_url: str = Field(
        validation_alias="MATRX_AGENT_URL",
        description="The agent's public URL (through the proxy).",
    )
    breakglass_url: str = Field(
        "",
        validation_alias="MATRX_BREAKGLASS_URL",
        description="The agent reached directly, bypassing the proxy (https with a pin).",
    )
    breakglass_cert_sha256: str = Field(
        "",
        validation_alias="MATRX_BREAKGLASS_CERT_SHA256",
        description="SHA-256 of the break-glass certificate (64 hex digits, colons allowed).",
    )
    alarm_topic_arn: str = Field(
        validation_alias="MATRX_ALARM_TOPIC_ARN", description="SNS topic for alerts."
    )
    agent_token_secret_arn: str = Field(
        "",
        validation_alias="MATRX_AGENT_TOKEN_SECRET_ARN",
        description="Secrets Manager ARN of the agent token (operate scope).",
    )
    agent_token_value: SecretStr | None = Field(
        None,
        validation_alias="MATRX_AGENT_TOKEN",
        description="The agent token itself, instead of the secret's ARN (CLI, benchmark).",
    )
    database_url_secret_arn: str = Field(
        "",
        validation_alias="MATRX_DATABASE_URL_SECRET_ARN",
        description="Secrets Manager ARN of the state store URL (SUPABASE_DB_URL).",
    )
    database_url_value: SecretStr | None = Field(
        None,
        validation_alias="SUPABASE_DB_URL",
        description="The state store URL itself, instead of the secret's ARN (CLI, benchmark).",
    )
    request_timeout_s: float = Field(
        5.0,
        gt=0,
        le=30,
        validation_alias="MATRX_PROBE_TIMEOUT_S",
        description="Seconds one probe request may take.",
    )

    @field_validator("agent_url", "breakglass_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("breakglass_cert_sha256")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        value = value.replace(":", "").strip().lower()
        if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError("must be 64 hex digits (colons allowed)")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> DeployTierSettings:
        if bool(self.agent_token_secret_arn) == (self.agent_token_value is not None):
            raise ValueError(
                "set exactly one of MATRX_AGENT_TOKEN_SECRET_ARN and MATRX_AGENT_TOKEN"
            )
        if bool(self.database_url_secret_arn) == (self.database_url_value is not None):
            raise ValueError("set exactly one of MATRX_DATABASE_URL_SECRET_ARN and SUPABASE_DB_URL")
        if self.breakglass_url.startswith("https://") and not self.breakglass_cert_sha256:
            raise ValueError("MATRX_BREAKGLASS_URL needs MATRX_BREAKGLASS_CERT_SHA256 (the pin)")
        return self

    def agent_token(self) -> str:
        """The bearer token the functions show the agent."""
        if self.agent_token_value is not None:
            return self.agent_token_value.get_secret_value()
        return read_secret(self.agent_token_secret_arn)

    def database_url(self) -> str:
        """The state store's URL (libpq style)."""
        if self.database_url_value is not None:
            return self.database_url_value.get_secret_value()
        return read_secret(self.database_url_secret_arn)


# --- reaching the agent: public path, then break-glass ---------------------------------------

Verdict = Literal["ok", "not_ready", "proxy_broken", "agent_down", "host_unreachable"]


@dataclass(kw_only=True)
class AgentReach:
    """How the agent answered this round, and a client on the path that worked.

    ok: the public path answers and the agent is ready; not_ready: it answers but says it
    cannot work (or refuses the token); proxy_broken: only the break-glass path answers;
    agent_down: nothing answers, but something accepts TCP connections; host_unreachable:
    neither path accepts a TCP connection.
    """

    verdict: Verdict
    path: str | None
    url: str | None
    pin: str | None
    client: AgentClient | None
    detail: dict[str, Any]
    latency_ms: float

    def action_client(self, token: str, timeout: float) -> AgentClient | None:
        """A client on the working path with a longer timeout, for restarts and jobs."""
        if self.url is None:
            return None
        return AgentClient(self.url, token, pinned_sha256=self.pin, timeout=timeout)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def tcp_open(url: str, timeout: float) -> bool:
    """True when something accepts a TCP connection at the URL's host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _try_path(
    url: str, token: str, pin: str | None, timeout: float
) -> tuple[AgentClient | None, dict[str, Any]]:
    """Healthz, then authenticated readyz, on one path; the client when healthz answered."""
    info: dict[str, Any] = {"url": url}
    try:
        client = AgentClient(url, token, pinned_sha256=pin, timeout=timeout)
    except PinMismatch as exc:
        return None, {**info, "answered": True, "error": exc.message, "code": exc.code}
    except (OSError, ssl.SSLError) as exc:
        return None, {**info, "answered": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        info["healthz"] = client.healthz()
    except AgentError as exc:
        client.close()
        return None, {**info, "answered": False, "error": exc.message[:300], "code": exc.code}
    try:
        ready = client.readyz()
        info.update(ready=bool(ready.get("ready")), checks=ready.get("checks"))
    except AgentError as exc:
        info.update(ready=False, error=exc.message[:300], code=exc.code)
    return client, {**info, "answered": True}


def reach_agent(
    *, public_url: str, breakglass_url: str, pin: str, token: str, timeout: float
) -> AgentReach:
    """Probe the agent on its public path and, at the same time, on the break-glass path
    (so a broken break-glass path is known before it is needed); use break-glass only when
    the public path fails, and tell a broken proxy from a dead host by TCP."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        glass_f = (
            pool.submit(_try_path, breakglass_url, token, pin or None, timeout)
            if breakglass_url
            else None
        )
        client, public = _try_path(public_url, token, None, timeout)
        glass_client, glass = glass_f.result() if glass_f else (None, {})
    detail: dict[str, Any] = {"public": public}
    if breakglass_url:
        detail["breakglass"] = glass
    verdict: Verdict
    if client is not None:
        verdict, path, url = ("ok" if public.get("ready") else "not_ready"), "public", public_url
        if glass_client is not None:
            glass_client.close()
    elif glass_client is not None:
        verdict, path, url, client = "proxy_broken", "breakglass", breakglass_url, glass_client
    else:
        verdict, path, url = _unreachable(public_url, breakglass_url, detail, timeout), None, None
    return AgentReach(
        verdict=verdict,
        path=path,
        url=url,
        pin=pin if path == "breakglass" and pin else None,
        client=client,
        detail={**detail, "verdict": verdict},
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _unreachable(
    public_url: str, breakglass_url: str, detail: dict[str, Any], timeout: float
) -> Verdict:
    """agent_down when either path accepts TCP, host_unreachable when neither does."""
    urls = [u for u in (public_url, breakglass_url) if u]
    with ThreadPoolExecutor(max_workers=2) as pool:
        open_ = list(pool.map(lambda u: tcp_open(u, min(timeout, 3.0)), urls))
    detail["public"]["tcp"] = open_[0]
    if breakglass_url:
        detail["breakglass"]["tcp"] = open_[1]
    else:
        detail["note"] = "no break-glass path configured: a dead proxy looks like a dead host"
    return "agent_down" if any(open_) else "host_unreachable"
