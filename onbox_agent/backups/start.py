"""Starting backup, system backup, restore and verify jobs, each under its locks."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from matrx_ship.errors import Conflict, InvalidInput
from matrx_ship.models import ServiceSpec
from matrx_ship.store.store import utcnow
from onbox_agent.backups.common import SYSTEM_LOCK, catalog
from onbox_agent.backups.restore import Restore
from onbox_agent.backups.take import run_backup, run_system_backup
from onbox_agent.backups.verify import run_verify
from onbox_agent.runtime import Runtime

# --- starting jobs ------------------------------------------------------------------------


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def _new_id() -> str:
    return "bak_" + secrets.token_hex(6)


def start_backup(
    rt: Runtime, spec: ServiceSpec, actor: str, trigger: str = "manual"
) -> dict[str, Any]:
    """Take the service's backup lock and start the backup job; answers at once."""
    lock = f"{spec.name}:backup"
    rt.locks.acquire(lock, actor, "backup")
    backup_id = _new_id()
    try:
        catalog(rt).add(
            id=backup_id,
            kind="service",
            service=spec.name,
            trigger=trigger,
            actor=actor,
            prefix=f"backups/{spec.name}/{_stamp(utcnow())}-{backup_id}/",
        )
        job = rt.jobs.submit(
            "backup",
            spec.name,
            actor,
            {"backup_id": backup_id, "trigger": trigger},
            lambda ctx: run_backup(rt, ctx, spec, backup_id),
            on_end=lambda: rt.locks.release(lock),
        )
    except Exception:
        rt.locks.release(lock)
        raise
    catalog(rt).update(backup_id, job_id=job["id"])
    return {**job, "backup_id": backup_id}


def start_system_backup(rt: Runtime, actor: str, trigger: str = "manual") -> dict[str, Any]:
    """Start a backup of the state store's tables and Traefik's dynamic config."""
    rt.locks.acquire(SYSTEM_LOCK, actor, "system backup")
    backup_id = _new_id()
    try:
        catalog(rt).add(
            id=backup_id,
            kind="system",
            service=None,
            trigger=trigger,
            actor=actor,
            prefix=f"system-backups/{_stamp(utcnow())}-{backup_id}/",
        )
        job = rt.jobs.submit(
            "system-backup",
            None,
            actor,
            {"backup_id": backup_id, "trigger": trigger},
            lambda ctx: run_system_backup(rt, ctx, backup_id),
            on_end=lambda: rt.locks.release(SYSTEM_LOCK),
        )
    except Exception:
        rt.locks.release(SYSTEM_LOCK)
        raise
    catalog(rt).update(backup_id, job_id=job["id"])
    return {**job, "backup_id": backup_id}


def restorable(rt: Runtime, backup_id: str) -> dict[str, Any]:
    """A service backup that succeeded and whose service exists, or a clear error."""
    backup = catalog(rt).get(backup_id)
    if backup["kind"] != "service":
        raise InvalidInput(
            f"The backup {backup_id} is a system backup; only service backups restore here.",
            code="not_a_service_backup",
            hint="See docs/backups.md for restoring the state store by hand.",
        )
    if backup["status"] != "succeeded":
        raise Conflict(
            f"The backup {backup_id} is {backup['status']}, not succeeded.",
            code="backup_not_usable",
            hint="Pick a backup whose status is succeeded.",
        )
    return backup


def start_restore(
    rt: Runtime, backup: dict[str, Any], actor: str, keep_old: bool, deadline: float | None
) -> dict[str, Any]:
    """Hold the service (one change at a time, no backup meanwhile) and start the restore."""
    name = backup["service"]
    spec = rt.specs.get(name)
    rt.locks.acquire(name, actor, "restore")
    try:
        rt.locks.acquire(f"{name}:backup", actor, "restore")
    except Exception:
        rt.locks.release(name)
        raise

    def release() -> None:
        rt.locks.release(f"{name}:backup")
        rt.locks.release(name)

    try:
        return rt.jobs.submit(
            "restore",
            name,
            actor,
            {"backup_id": backup["id"], "keep_old": keep_old},
            lambda ctx: Restore(rt, ctx, spec, backup, actor, deadline).run(keep_old),
            on_end=release,
        )
    except Exception:
        release()
        raise


def start_verify(rt: Runtime, backup: dict[str, Any], actor: str) -> dict[str, Any]:
    """Start a verification of a backup (held against pruning and other backups)."""
    lock = f"{backup['service']}:backup" if backup["service"] else SYSTEM_LOCK
    rt.locks.acquire(lock, actor, "verify")
    try:
        return rt.jobs.submit(
            "verify",
            backup["service"],
            actor,
            {"backup_id": backup["id"]},
            lambda ctx: run_verify(rt, ctx, backup),
            on_end=lambda: rt.locks.release(lock),
        )
    except Exception:
        rt.locks.release(lock)
        raise
