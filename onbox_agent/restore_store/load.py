"""The store side: the empty target refused unless empty, the whole load in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    MetaData,
    Table,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy import table as table_clause
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError

from matrx_ship.blobs import BlobStore
from matrx_ship.config import normalize_pg_url
from matrx_ship.errors import Conflict, Unavailable
from matrx_ship.store import Store
from onbox_agent.restore_store.base import BATCH, SIDECAR, SKIP, Refused
from onbox_agent.restore_store.blob import table_parts, table_rows, want_rows
from onbox_agent.restore_store.parts import count_report, load_order, row_values

# --- the store side -----------------------------------------------------------------------


def open_store(url: str) -> Store:
    """The target store (a PostgreSQL or SQLite URL), reachable, or Unavailable."""
    store = Store(normalize_pg_url(url))
    try:
        store.ping()
    except SQLAlchemyError as exc:
        store.dispose()
        raise Unavailable(
            f"The target store cannot be reached: {type(exc).__name__}: {str(exc)[:300]}",
            code="store_unavailable",
            hint="Check --store-url (create the empty database first) and that it accepts us.",
        ) from exc
    return store


def filled_tables(conn: Connection) -> list[str]:
    """The target's tables that hold rows (the migrations' own bookkeeping aside)."""
    names = sorted(set(inspect(conn).get_table_names()) - SKIP)
    return [
        n for n in names if conn.scalar(select(literal(1)).select_from(table_clause(n)).limit(1))
    ]


def refuse_unless_empty(conn: Connection) -> None:
    filled = filled_tables(conn)
    if filled:
        raise Refused(
            f"The target store is not empty: {', '.join(filled)} hold rows. A restore only "
            "goes into an empty store, so nothing was changed.",
            code="store_not_empty",
            hint="Create a new empty database and pass its URL as --store-url (do not start "
            "an agent on it before the restore: it writes its first token and audit events).",
        )


def load(store: Store, blobs: BlobStore, manifest: dict[str, Any], out: TextIO) -> dict[str, int]:
    """Migrate, load every table, move sequences on, mark the backup itself, compare counts;
    all in one transaction, rolled back on any failure. The row counts per table."""
    parts, want = table_parts(manifest), want_rows(manifest)
    with store.engine.begin() as conn:
        refuse_unless_empty(conn)
        store.migrate(conn)
        meta = MetaData()
        meta.reflect(conn)
        order = load_order([t.name for t in meta.sorted_tables], list(parts))
        for name in order:
            n = _load_table(conn, meta.tables[name], table_rows(blobs, parts[name]))
            print(f"loaded {name}: {n} rows", file=out)
        _move_sequences(conn, [meta.tables[n] for n in order])
        _mark_restored_from(conn, meta, manifest)
        got = {
            n: int(conn.scalar(select(func.count()).select_from(meta.tables[n])) or 0)
            for n in order
        }
        if got != want:
            diff = {t: [w, g] for t, w, g in count_report(want, got) if w != g}
            raise Conflict(
                f"The loaded rows differ from the backup's manifest: {json.dumps(diff)[:400]} "
                "(table: [backup, loaded]); everything was rolled back.",
                code="restore_check_failed",
                hint="Check the backup with an agent (POST /v1/backups/{id}/verify) or pick "
                "another from --list.",
            )
    return got


def _kinds(table: Table) -> dict[str, str]:
    out = {}
    for col in table.columns:
        if isinstance(col.type, JSON):
            col.type = JSON(none_as_null=True)  # a JSON null in the backup is a SQL NULL
        is_time = isinstance(col.type, DateTime)
        out[col.name] = "datetime" if is_time else "date" if isinstance(col.type, Date) else "plain"
    return out


def _load_table(conn: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    kinds, batch, n = _kinds(table), [], 0
    for row in rows:
        batch.append(row_values(row, kinds, table.name))
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            n, batch = n + len(batch), []
    if batch:
        conn.execute(table.insert(), batch)
    return n + len(batch)


def _move_sequences(conn: Connection, tables: list[Table]) -> None:
    """On PostgreSQL, each serial id's sequence past the loaded ids (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        for col in table.primary_key.columns:
            seq = conn.scalar(
                sql_text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": quote(table.name), "c": col.name},
            )
            top = conn.scalar(select(func.max(col))) if seq else None
            if seq and top is not None:
                conn.execute(
                    sql_text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": seq, "v": top}
                )


def _mark_restored_from(conn: Connection, meta: MetaData, manifest: dict[str, Any]) -> None:
    """The backup's own row was dumped while it ran: record it as the success it was."""
    table = meta.tables.get("backups")
    if table is None:
        return
    parts = manifest["parts"]
    keys = [k for p in parts for k in (p["key"], p["key"] + SIDECAR)]
    finished = manifest.get("finished_at") or manifest["created_at"]
    conn.execute(
        table.update()
        .where(table.c.id == manifest["id"])
        .values(
            status="succeeded",
            finished_at=datetime.fromisoformat(finished),
            size=sum(p["size"] for p in parts),
            sha256=manifest["sha256"],
            manifest_key=manifest["key"],
            keys=[*keys, manifest["key"], manifest["key"] + SIDECAR],
            parts=parts,
            error=None,
            note="this store was restored from this backup (python -m onbox_agent.restore_store)",
        )
    )
