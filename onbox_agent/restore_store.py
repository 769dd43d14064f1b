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

import argparse
import contextlib
import hashlib
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

import boto3
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

from matrx_ship.blobs import BlobStore, blob_store_for
from matrx_ship.config import normalize_pg_url
from matrx_ship.crypto import PREFIX, SecretBox
from matrx_ship.errors import Conflict, MatrxError, NotFound, Unavailable
from matrx_ship.store import Store
from onbox_agent.archive import gunzip_chunks
from onbox_agent.settings import RestoreStoreSettings

SYSTEM_PREFIX = "system-backups/"
SERVICE_PREFIX = "backups/"
SIDECAR = ".sha256"
ID = re.compile(r"^bak_[0-9a-f]{12}$")
SKIP = frozenset({"alembic_version"})  # written by the migrations, never loaded
BATCH = 1000
CHUNK = 1 << 20


class Refused(Conflict):
    """The restore will not start; nothing was changed (exit 2)."""


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


# --- the blob side ------------------------------------------------------------------------


def read_settings(env_file: Path | None) -> RestoreStoreSettings:
    """The environment's settings, and the env file's when given (the environment wins)."""
    if env_file is None:
        return RestoreStoreSettings()  # type: ignore[call-arg]
    return RestoreStoreSettings(_env_file=env_file)  # type: ignore[call-arg]


def blobs_of(s: RestoreStoreSettings) -> BlobStore:
    """The blob store the settings configure (S3 with the env file's key, or the folder)."""
    secret = s.aws_secret_access_key.get_secret_value() if s.aws_secret_access_key else None
    session = boto3.Session(
        aws_access_key_id=s.aws_access_key_id,
        aws_secret_access_key=secret,
        region_name=s.aws_region,
    )
    return blob_store_for(s.s3_bucket, s.s3_endpoint_url, s.s3_prefix, s.data_dir, session)


def find_folder(blobs: BlobStore, backup_id: str) -> Folder:
    """The backup's folder; Refused when it is a service backup, unfinished or absent."""
    found = [f for f in backup_folders(blobs.list(SYSTEM_PREFIX)) if f.id == backup_id]
    if found and found[0].has_manifest:
        return found[0]
    if found:
        raise Refused(
            f"The system backup {backup_id} has no manifest: it failed or never finished.",
            code="backup_not_usable",
            hint="Pick a whole one from --list (its status says complete).",
        )
    if any(f"-{backup_id}/" in k for k in blobs.list(SERVICE_PREFIX)):
        raise Refused(
            f"The backup {backup_id} is a service backup, not a system backup.",
            code="not_a_system_backup",
            hint="Service backups restore through the agent: POST /v1/backups/{id}/restore.",
        )
    raise Refused(
        f"There is no backup {backup_id} below {SYSTEM_PREFIX} in this blob store.",
        code="backup_not_found",
        hint="List what the bucket holds with --list; check MATRX_S3_BUCKET, MATRX_S3_PREFIX "
        "(the lost host's name) or MATRX_DATA_DIR.",
    )


def sidecar_sha(blobs: BlobStore, key: str) -> str:
    """The sha256 the ``<key>.sha256`` sidecar records (``sha256sum -c`` format)."""
    try:
        with contextlib.closing(blobs.open(key + SIDECAR)) as f:
            line = f.read().decode(errors="replace")
    except NotFound as exc:
        raise _corrupt(key, "its .sha256 sidecar is missing") from exc
    return line.split(" ", 1)[0].strip()


def read_manifest(blobs: BlobStore, folder: Folder) -> dict[str, Any]:
    """The folder's manifest, checked against its sidecar; Refused unless a system backup's."""
    key = folder.prefix + "manifest.json"
    with contextlib.closing(blobs.open(key)) as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != sidecar_sha(blobs, key):
        raise _corrupt(key, "its sha256 differs from its sidecar's")
    try:
        manifest: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise _corrupt(key, f"it is not JSON ({exc})") from exc
    if manifest.get("kind") != "system" or manifest.get("id") != folder.id:
        raise Refused(
            f"{key} is not the manifest of the system backup {folder.id}.",
            code="not_a_system_backup",
            hint="Pick a system backup from --list.",
        )
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["key"] = key
    return manifest


def table_parts(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in manifest["parts"] if p["kind"] == "table"}


def secret_values(services: Iterable[dict[str, Any]], dbs: Iterable[dict[str, Any]]) -> list[str]:
    """The encrypted values of ``services`` rows (env values) and ``databases`` rows
    (passwords)."""
    env = [v for r in services for v in (r.get("spec") or {}).get("env", {}).values()]
    values = [*env, *(r.get("password_enc") for r in dbs)]
    return [v for v in values if isinstance(v, str) and v.startswith(PREFIX)]


def check_master_key(
    blobs: BlobStore, manifest: dict[str, Any], key: str | None, out: TextIO
) -> None:
    """Refuse when the given master key does not open every secret in the backup: the
    restored store would work only with another key."""
    if key is None:
        print("MATRX_MASTER_KEY is not set: the encrypted values were not checked", file=out)
        return
    parts = table_parts(manifest)
    rows = {
        n: list(table_rows(blobs, parts[n])) if n in parts else []
        for n in ("services", "databases")
    }
    values = secret_values(rows["services"], rows["databases"])
    box = SecretBox(key)
    bad = [v for v in values if not _opens(box, v)]
    if bad:
        raise Refused(
            f"MATRX_MASTER_KEY does not open {len(bad)} of the backup's {len(values)} encrypted "
            "values: the restored store would not work with this key.",
            code="wrong_master_key",
            hint="Use the lost host's MATRX_MASTER_KEY (an agent on the restored store needs it), "
            "or leave it out of the environment to restore without this check.",
        )
    print(f"MATRX_MASTER_KEY opens the backup's {len(values)} encrypted values", file=out)


def _opens(box: SecretBox, value: str) -> bool:
    try:
        box.decrypt(value)
    except ValueError:
        return False
    return True


def want_rows(manifest: dict[str, Any]) -> dict[str, int]:
    """Rows per table the manifest records (the schema's version table aside)."""
    return {n: int(p["detail"]["rows"]) for n, p in table_parts(manifest).items() if n not in SKIP}


def verify_parts(blobs: BlobStore, manifest: dict[str, Any]) -> None:
    """Every part read whole: its sha256 equals its sidecar's and the manifest's, and a
    table's JSON lines number the rows the manifest records."""
    for part in manifest["parts"]:
        if part["kind"] == "table":
            lines = sum(chunk.count(b"\n") for chunk in _table_chunks(blobs, part))
            if lines != part["detail"]["rows"]:
                raise _corrupt(
                    part["key"], f"{lines} rows, the manifest says {part['detail']['rows']}"
                )
        else:
            for _ in _checked_chunks(blobs, part):
                pass


def _checked_chunks(blobs: BlobStore, part: dict[str, Any]) -> Iterator[bytes]:
    """The part's bytes; at the end, a mismatch with the sidecar or manifest raises."""
    want = sidecar_sha(blobs, part["key"])
    if want != part["sha256"]:
        raise _corrupt(part["key"], "its sidecar and the manifest record different sha256s")
    digest, size = hashlib.sha256(), 0
    with contextlib.closing(blobs.open(part["key"])) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
    if digest.hexdigest() != want or size != part["size"]:
        raise _corrupt(part["key"], "its bytes are not those recorded at backup time")


def _table_chunks(blobs: BlobStore, part: dict[str, Any]) -> Iterator[bytes]:
    """The table's JSON lines, decompressed; damage found on the way is named as such."""
    try:
        yield from gunzip_chunks(_ChunkFile(_checked_chunks(blobs, part)))  # type: ignore[arg-type]
    except zlib.error as exc:
        raise _corrupt(part["key"], f"it does not decompress ({exc})") from exc


class _ChunkFile:
    """``read`` over an iterator of chunks (what gunzip_chunks reads from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def read(self, _n: int = -1) -> bytes:
        return next(self.chunks, b"")


def table_rows(blobs: BlobStore, part: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The table's rows, one dict a JSON line (the whole object is hash-checked on the way)."""
    rest = b""
    for chunk in _table_chunks(blobs, part):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (_parsed(line, part) for line in lines)
    if rest.strip():
        yield _parsed(rest, part)


def _parsed(line: bytes, part: dict[str, Any]) -> dict[str, Any]:
    try:
        row: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise _corrupt(part["key"], f"a line is not JSON ({exc})") from exc
    return row


def _corrupt(key: str, why: str) -> Refused:
    return Refused(
        f"The object {key} cannot be trusted: {why}.",
        code="backup_corrupt",
        hint="Pick an older system backup from --list; this one is damaged.",
    )


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


# --- the command --------------------------------------------------------------------------


def list_backups(blobs: BlobStore, out: TextIO) -> int:
    """Print the system backups the blob store holds: id, time, size, newest first."""
    folders = backup_folders(blobs.list(SYSTEM_PREFIX))
    if not folders:
        raise NotFound(
            f"The blob store holds no system backups below {SYSTEM_PREFIX}.",
            code="no_system_backups",
            hint="Check MATRX_S3_BUCKET, MATRX_S3_PREFIX (the lost host's name) or MATRX_DATA_DIR.",
        )
    print(f"{'id':<17}  {'time (UTC)':<25}  {'bytes':>12}  status", file=out)
    for f in folders:
        when, size, status = _listed(blobs, f)
        print(f"{f.id:<17}  {when:<25}  {size:>12}  {status}", file=out)
    return 0


def _listed(blobs: BlobStore, folder: Folder) -> tuple[str, str, str]:
    """A folder's time, size and status for --list."""
    if not folder.has_manifest:
        return folder.stamp, "-", "incomplete: no manifest, not restorable"
    try:
        m = read_manifest(blobs, folder)
        return m["created_at"], str(sum(p["size"] for p in m["parts"])), "complete"
    except (MatrxError, ValueError, KeyError) as exc:
        why = exc.message if isinstance(exc, MatrxError) else f"{type(exc).__name__}: {exc}"
        return folder.stamp, "-", f"damaged manifest, not restorable ({why[:120]})"


def restore(
    settings: RestoreStoreSettings, backup_id: str, url: str, check: bool, out: TextIO
) -> int:
    """Find the backup, refuse a filled target, check every part and the master key, then
    load it (unless ``check``) and print the row counts per table against the manifest's."""
    blobs = blobs_of(settings)
    manifest = read_manifest(blobs, find_folder(blobs, backup_id))
    want = want_rows(manifest)
    made = manifest["created_at"]
    print(
        f"backup {backup_id}, made {made}: {len(want)} tables, {sum(want.values())} rows", file=out
    )
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            refuse_unless_empty(conn)
        print(
            f"the target {store.engine.url.render_as_string(hide_password=True)} is empty", file=out
        )
        verify_parts(blobs, manifest)
        print("every part matches its .sha256 sidecar and the manifest", file=out)
        key = settings.master_key.get_secret_value() if settings.master_key else None
        check_master_key(blobs, manifest, key, out)
        if check:
            print("check only: nothing was written", file=out)
            return 0
        got = load(store, blobs, manifest, out)
    finally:
        store.dispose()
    print(f"{'table':<20}  {'backup':>8}  {'restored':>8}", file=out)
    for name, w, g in count_report(want, got):
        print(f"{name:<20}  {w:>8}  {g:>8}", file=out)
    print("restored: every table holds the rows the backup's manifest lists", file=out)
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad arguments are an error like any other: JSON on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        body = {"error": "bad_arguments", "message": message, "hint": f"See {self.prog} --help."}
        print(json.dumps(body), file=sys.stderr)
        sys.exit(2)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(
        prog="python -m onbox_agent.restore_store",
        description="Restore a system backup into an EMPTY state store (docs/backups.md).",
    )
    p.add_argument("--list", action="store_true", help="print the system backups the store holds")
    p.add_argument("--backup-id", help="the system backup to restore (bak_ + 12 hex)")
    p.add_argument("--store-url", help="the EMPTY target store (postgresql://… or sqlite:///…)")
    p.add_argument("--env-file", type=Path, help="KEY=VALUE file with the blob store's variables")
    p.add_argument("--check", action="store_true", help="check everything, write nothing")
    args = p.parse_args(argv)
    if not args.list and not (args.backup_id and args.store_url):
        p.error("give --list, or --backup-id and --store-url")
    if args.backup_id and not ID.match(args.backup_id):
        p.error("--backup-id looks like bak_0123456789ab")
    if args.env_file and not args.env_file.is_file():
        p.error(f"--env-file {args.env_file} is not a file")
    return args


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run the command; the exit code (0 done, 2 refused, 1 failed; errors as JSON on stderr)."""
    args = parse(argv)
    try:
        settings = read_settings(args.env_file)
        if args.list:
            return list_backups(blobs_of(settings), out)
        return restore(settings, args.backup_id, args.store_url, args.check, out)
    except Refused as exc:
        print(json.dumps(exc.body()), file=sys.stderr)
        return 2
    except MatrxError as exc:
        print(json.dumps(exc.body()), file=sys.stderr)
        return 1
    except Exception as exc:  # a rescue tool says what broke, in the same shape
        err = Unavailable(
            f"The restore failed and was rolled back: {type(exc).__name__}: {str(exc)[:500]}",
            code="restore_failed",
            hint="Fix the cause named here and run the command again; nothing was changed.",
        )
        print(json.dumps(err.body()), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
