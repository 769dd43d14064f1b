"""The pure parts: backup folders from keys, the load order, rows from JSON lines, reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from onbox_agent.restore_store.base import ID, SKIP, SYSTEM_PREFIX, Refused

# --- pure parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    """A system backup's folder in the blob store."""

    id: str
    prefix: str
    stamp: str
    has_manifest: bool


def backup_folders(keys: Iterable[str]) -> list[Folder]:
    """The backup folders below ``system-backups/`` (``<stamp>-<id>/``), newest first; a
    folder without ``manifest.json`` is a backup that never finished."""
    names: dict[str, set[str]] = {}
    for key in keys:
        folder, _, name = key.removeprefix(SYSTEM_PREFIX).partition("/")
        if key.startswith(SYSTEM_PREFIX) and name and ID.match(folder.partition("-")[2]):
            names.setdefault(folder, set()).add(name)
    folders = [
        Folder(
            id=folder.partition("-")[2],
            prefix=f"{SYSTEM_PREFIX}{folder}/",
            stamp=folder.partition("-")[0],
            has_manifest="manifest.json" in held,
        )
        for folder, held in names.items()
    ]
    return sorted(folders, key=lambda f: (f.stamp, f.id), reverse=True)


def load_order(dependency_order: list[str], backup_tables: list[str]) -> list[str]:
    """The backup's tables in the target's dependency order (parents first); Refused when the
    backup holds a table this version's schema does not have (its rows would be lost)."""
    unknown = sorted(set(backup_tables) - set(dependency_order) - SKIP)
    if unknown:
        raise Refused(
            f"The backup holds tables this version's schema does not have: {', '.join(unknown)}.",
            code="schema_mismatch",
            hint="Run the restore with the matrx-ship version that made the backup (or newer).",
        )
    return [t for t in dependency_order if t in backup_tables and t not in SKIP]


def row_values(row: dict[str, Any], kinds: dict[str, str], table: str) -> dict[str, Any]:
    """A JSON-lines row as values for the target's columns: ISO strings back to times.
    ``kinds`` maps each target column to ``datetime``, ``date`` or ``plain``."""
    unknown = sorted(set(row) - set(kinds))
    if unknown:
        raise Refused(
            f"The backup's table {table} has columns this version's schema does not have: "
            f"{', '.join(unknown)}.",
            code="schema_mismatch",
            hint="Run the restore with the matrx-ship version that made the backup (or newer).",
        )
    return {k: _value(v, kinds[k]) for k, v in row.items()}


def _value(value: Any, kind: str) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return value


def count_report(want: dict[str, int], got: dict[str, int]) -> list[tuple[str, int, int]]:
    """Per table: its rows in the backup's manifest and in the target, by table name."""
    return [(t, want[t], got.get(t, 0)) for t in sorted(want)]
