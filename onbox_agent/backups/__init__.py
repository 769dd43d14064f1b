"""Backups and restores of services and of the system, as jobs; their schedule and retention.

A service backup is a set of parts streamed into the blob store, each hashed as it is
written (no temp copy): the database (``pg_dump -Fc`` out of the db container), each
named volume (a tar from the engine, gzipped on the fly), and the spec with its env
values still encrypted. Every part gets a ``<key>.sha256`` sidecar (``sha256sum -c``
format) and the backup a ``manifest.json``; the catalog row (``backups``) holds what,
when, who, size, sha256, duration, outcome and each part's key, size and sha256.

A restore stages everything beside the live service first (a fresh database, new
volumes), checks it (sha256 of every part, row counts against the backup's), and only
then swaps: the database by rename, the volumes by a spec update that recreates the
service through the health gate. Anything that fails puts the service back as it was.

What to do is planned by pure functions (``plan_backup``, ``plan_restore``,
``plan_prune``, ``is_due``) and applied by thin executors that record each step.
"""

from __future__ import annotations

from onbox_agent.backups.common import CHUNK, HELPER, SIDECAR, SYSTEM_LOCK, catalog, setting
from onbox_agent.backups.plans import (
    BackupRef,
    PartRef,
    Step,
    is_due,
    plan_backup,
    plan_prune,
    plan_restore,
)
from onbox_agent.backups.restore import (
    Restore,
    Staged,
    drop_database,
    renamed_volume,
    under_held_lock,
)
from onbox_agent.backups.schedule import (
    Scheduler,
    backup_refs,
    due_services,
    last_times,
    prune,
    run_schedule,
    start_scheduler,
    stop_scheduler,
    system_backup_due,
)
from onbox_agent.backups.start import (
    restorable,
    start_backup,
    start_restore,
    start_system_backup,
    start_verify,
)
from onbox_agent.backups.streams import ChunkReader, HashingReader, checked_read, corrupt, put_part
from onbox_agent.backups.take import (
    PartWriter,
    _part,
    helper,
    run_backup,
    run_system_backup,
    table_lines,
)
from onbox_agent.backups.verify import run_verify, scratch_postgres, scratch_restore

__all__ = [
    "CHUNK",
    "HELPER",
    "SIDECAR",
    "SYSTEM_LOCK",
    "BackupRef",
    "ChunkReader",
    "HashingReader",
    "PartRef",
    "PartWriter",
    "Restore",
    "Scheduler",
    "Staged",
    "Step",
    "_part",
    "backup_refs",
    "catalog",
    "checked_read",
    "corrupt",
    "drop_database",
    "due_services",
    "helper",
    "is_due",
    "last_times",
    "plan_backup",
    "plan_prune",
    "plan_restore",
    "prune",
    "put_part",
    "renamed_volume",
    "restorable",
    "run_backup",
    "run_schedule",
    "run_system_backup",
    "run_verify",
    "scratch_postgres",
    "scratch_restore",
    "setting",
    "start_backup",
    "start_restore",
    "start_scheduler",
    "start_system_backup",
    "start_verify",
    "stop_scheduler",
    "system_backup_due",
    "table_lines",
    "under_held_lock",
]
