"""Probe results and per-target rows in the state store (migration 0003).

Every `ProbeStore` method is one transaction; the states and the ladder they move along
are `lambdas.common.ladder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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

from lambdas.common.ladder import TargetState, Thresholds, state_for
from matrx_ship.store.store import _aware, utcnow

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
