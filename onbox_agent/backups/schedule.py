"""Retention (prune) and the schedule: due service and system backups started, old ones pruned."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from matrx_ship.errors import Conflict, MatrxError
from matrx_ship.models import AuditEvent, ServiceSpec
from matrx_ship.store.store import utcnow
from matrx_ship.store.tables import ServiceRow, TokenRow
from onbox_agent.backups.common import SYSTEM_LOCK, catalog, setting
from onbox_agent.backups.plans import BackupRef, is_due, plan_prune
from onbox_agent.backups.start import start_backup, start_system_backup
from onbox_agent.runtime import Runtime

log = logging.getLogger(__name__)

# --- retention and schedule ---------------------------------------------------------------


def prune(rt: Runtime, service: str | None, now: datetime | None = None) -> list[str]:
    """Delete the backups retention does not keep (the row marked first, then the objects):
    a service's, or with ``service`` None the system backups."""
    kind = "service" if service else "system"
    rows = catalog(rt).find(service=service, kind=kind, status="succeeded", limit=10_000)
    doomed = plan_prune(
        backup_refs(rows),
        now or utcnow(),
        int(setting(rt, "backup_keep_last")),
        int(setting(rt, "backup_keep_daily")),
        int(setting(rt, "backup_keep_weekly")),
    )
    by_id = {r["id"]: r for r in rows}
    for backup_id in doomed:
        # the row first: a half-deleted backup must never look restorable
        catalog(rt).update(backup_id, status="pruned", pruned_at=utcnow())
        left = _delete_all(rt, by_id[backup_id]["keys"])
        if left:
            catalog(rt).update(backup_id, note=f"objects not deleted: {', '.join(left)}"[:2000])
    if doomed:
        _audit(rt, "backup.prune", service or "system", {"pruned": doomed})
    return doomed


def _delete_all(rt: Runtime, keys: list[str]) -> list[str]:
    """Delete every key; the ones that could not be deleted."""
    left = []
    for key in keys:
        try:
            rt.blobs.delete(key)
        except MatrxError:
            left.append(key)
    return left


def _good(row: dict[str, Any]) -> bool:
    verification = row.get("verification") or {}
    return row["status"] == "succeeded" and verification.get("ok", True) is not False


def backup_refs(rows: list[dict[str, Any]]) -> list[BackupRef]:
    """Catalog rows as retention sees them: a backup whose last verification failed is not
    good."""
    return [BackupRef(r["id"], r["created_at"], _good(r)) for r in rows]


def last_times(rows: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    """Of catalog rows (newest first): when the newest good backup and the newest attempt of
    any outcome were made; a pruned backup was good."""
    good = next((r["created_at"] for r in rows if r["status"] in ("succeeded", "pruned")), None)
    return good, rows[0]["created_at"] if rows else None


def due_services(rt: Runtime, now: datetime) -> list[ServiceSpec]:
    """The services whose scheduled backup is due now."""
    with rt.store.session() as s:
        since = {n: c for n, c in s.execute(select(ServiceRow.name, ServiceRow.created_at))}
    out = []
    for spec in rt.specs.list():
        good, attempt = last_times(catalog(rt).find(service=spec.name, kind="service", limit=50))
        created = _aware(since.get(spec.name)) or now
        if is_due(
            now,
            good,
            attempt,
            created,
            setting(rt, "backup_interval_hours"),
            setting(rt, "backup_retry_hours"),
        ):
            out.append(spec)
    return out


def system_backup_due(rt: Runtime, now: datetime) -> bool:
    """Whether the scheduled system backup is due: the same rule as a service's, counted from
    when the store was set up (its oldest token, the bootstrap admin's) until the first."""
    good, attempt = last_times(catalog(rt).find(kind="system", limit=50))
    with rt.store.session() as s:
        since = _aware(s.scalar(select(func.min(TokenRow.created_at)))) or now
    return is_due(
        now,
        good,
        attempt,
        since,
        setting(rt, "system_backup_interval_hours"),
        setting(rt, "backup_retry_hours"),
    )


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def run_schedule(rt: Runtime, now: datetime | None = None) -> dict[str, Any]:
    """One pass of the scheduler: start due backups, prune every service's old ones, then the
    same for the system backup (``system``: the id it started, busy, what it pruned)."""
    now = now or utcnow()
    started, busy = [], []
    for spec in due_services(rt, now):
        try:
            job = start_backup(rt, spec, "scheduler", "scheduled")
        except Conflict:
            busy.append(spec.name)
            continue
        started.append(job["backup_id"])
        _audit(rt, "backup.scheduled", spec.name, {"job": job["id"], "backup": job["backup_id"]})
    pruned = {}
    for spec in rt.specs.list():
        gone = _prune_held(rt, f"{spec.name}:backup", spec.name, now)
        if gone:
            pruned[spec.name] = gone
    return {"started": started, "busy": busy, "pruned": pruned, "system": _system_pass(rt, now)}


def _system_pass(rt: Runtime, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"started": None, "busy": False, "pruned": []}
    if system_backup_due(rt, now):
        try:
            job = start_system_backup(rt, "scheduler", "scheduled")
        except Conflict:
            out["busy"] = True
        else:
            out["started"] = job["backup_id"]
            _audit(rt, "backup.scheduled", "system", {"job": job["id"], "backup": job["backup_id"]})
    out["pruned"] = _prune_held(rt, SYSTEM_LOCK, None, now)
    return out


def _prune_held(rt: Runtime, lock: str, service: str | None, now: datetime) -> list[str]:
    """Prune under the backup lock; nothing while a backup, restore or verify holds it (the
    next pass prunes)."""
    try:
        with rt.locks.hold(lock, "scheduler", "prune"):
            return prune(rt, service, now)
    except Conflict:
        return []
    except MatrxError as exc:
        log.warning("pruning the backups of %s failed: %s", service or "system", exc.message)
        return []


def _audit(rt: Runtime, action: str, target: str, detail: dict[str, Any]) -> None:
    rt.audit(
        AuditEvent(
            at=datetime.now(UTC),
            actor="scheduler",
            action=action,
            target=target,
            outcome="allowed",
            status=200,
            detail=detail,
        )
    )


class Scheduler:
    """A daemon thread that runs ``run_schedule`` every tick until stopped."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="backup-scheduler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(setting(self.rt, "backup_tick_seconds")):
            try:
                run_schedule(self.rt)
            except Exception:  # the schedule must survive a store or engine hiccup
                log.exception("backup schedule pass failed")

    def stop(self) -> None:
        self._stop.set()


def start_scheduler(rt: Runtime) -> Scheduler:
    """Mark backups a dead agent left running as interrupted; start the schedule thread."""
    catalog(rt).interrupt_leftovers()
    scheduler = Scheduler(rt)
    rt.backup_scheduler = scheduler
    scheduler.thread.start()
    return scheduler


def stop_scheduler(rt: Runtime) -> None:
    """Stop the schedule thread (at shutdown)."""
    if rt.backup_scheduler is not None:
        rt.backup_scheduler.stop()
