"""Restore a system backup into an EMPTY state store: the last resort when the store is lost.

    python -m onbox_agent.restore_store --list [--env-file PATH]
    python -m onbox_agent.restore_store --backup-id ID --store-url URL [--env-file PATH] [--check]

The backup is read from the blob store the environment names (``MATRX_S3_BUCKET``,
``AWS_ENDPOINT_URL``, ``MATRX_S3_PREFIX``, or the local folder below ``MATRX_DATA_DIR``),
never from the catalog: the catalog was in the store that is lost. A backup is found by
its folder ``system-backups/<stamp>-<id>/``; only one with a manifest (written last, so
only by a backup that succeeded) is restored. Every part is checked against its
``.sha256`` sidecar and the manifest before anything is written; then, in ONE transaction
on the target, the migrations run, every table's JSON lines are loaded in dependency
order, id sequences move past the loaded ids, and the row counts are compared with the
manifest's. Any failure rolls all of it back.

Encrypted values (env values, database passwords) are loaded as they were stored: the
restored store works with the same ``MATRX_MASTER_KEY``; when that variable is set, it must
open them all before anything is written. Traefik's files are checked, not restored: the
agent rewrites its route files from the specs when it starts.

Exit codes: 0 restored (with ``--check``: would restore), 2 refused (nothing changed:
the target is not empty, the backup is not a whole system backup, is damaged, is from a
newer schema, or the master key does not open it), 1
failed (rolled back, nothing changed). Errors are printed to stderr as JSON with a code,
a sentence and a hint.
"""

from __future__ import annotations

from onbox_agent.restore_store.base import (
    BATCH,
    CHUNK,
    ID,
    SERVICE_PREFIX,
    SIDECAR,
    SKIP,
    SYSTEM_PREFIX,
    Refused,
)
from onbox_agent.restore_store.blob import (
    _checked_chunks,
    _ChunkFile,
    _corrupt,
    _opens,
    _parsed,
    _table_chunks,
    blobs_of,
    check_master_key,
    find_folder,
    read_manifest,
    read_settings,
    secret_values,
    sidecar_sha,
    table_parts,
    table_rows,
    verify_parts,
    want_rows,
)
from onbox_agent.restore_store.command import _listed, _Parser, list_backups, main, parse, restore
from onbox_agent.restore_store.load import (
    _kinds,
    _load_table,
    _mark_restored_from,
    _move_sequences,
    filled_tables,
    load,
    open_store,
    refuse_unless_empty,
)
from onbox_agent.restore_store.parts import (
    Folder,
    _value,
    backup_folders,
    count_report,
    load_order,
    row_values,
)

__all__ = [
    "BATCH",
    "CHUNK",
    "ID",
    "SERVICE_PREFIX",
    "SIDECAR",
    "SKIP",
    "SYSTEM_PREFIX",
    "Folder",
    "Refused",
    "_ChunkFile",
    "_Parser",
    "_checked_chunks",
    "_corrupt",
    "_kinds",
    "_listed",
    "_load_table",
    "_mark_restored_from",
    "_move_sequences",
    "_opens",
    "_parsed",
    "_table_chunks",
    "_value",
    "backup_folders",
    "blobs_of",
    "check_master_key",
    "count_report",
    "filled_tables",
    "find_folder",
    "list_backups",
    "load",
    "load_order",
    "main",
    "open_store",
    "parse",
    "read_manifest",
    "read_settings",
    "refuse_unless_empty",
    "restore",
    "row_values",
    "secret_values",
    "sidecar_sha",
    "table_parts",
    "table_rows",
    "verify_parts",
    "want_rows",
]
