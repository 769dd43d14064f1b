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

import contextlib
import copy
import hashlib
import io
import json
import logging
import posixpath
import re
import secrets
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container
from docker.utils.socket import frames_iter
from pydantic_core import to_jsonable_python
from sqlalchemy import MetaData, Table, func, inspect, select

from matrx_ship.blobs import BlobInfo, Readable
from matrx_ship.errors import Conflict, InvalidInput, MatrxError, Unavailable
from matrx_ship.models import AuditEvent, ServiceSpec
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.store import utcnow
from matrx_ship.store.tables import ServiceRow, TokenRow
from onbox_agent import databases, engine
from onbox_agent.archive import GzipReader, gunzip_chunks
from onbox_agent.jobs import JobContext
from onbox_agent.locks import SYSTEM_BACKUP, HeldLocks
from onbox_agent.runtime import Runtime
from onbox_agent.services import ServiceManager

log = logging.getLogger(__name__)

# Until AgentSettings has these fields (MATRX_BACKUP_*), the defaults below apply;
# ``setting`` reads the field as soon as it exists.
DEFAULTS: dict[str, float] = {
    "backup_interval_hours": 24.0,
    "system_backup_interval_hours": 24.0,
    "backup_keep_last": 7,
    "backup_keep_daily": 7,
    "backup_keep_weekly": 4,
    "backup_retry_hours": 1.0,
    "backup_tick_seconds": 60.0,
}
HELPER = "matrx.helper"
SYSTEM_LOCK = SYSTEM_BACKUP
SIDECAR = ".sha256"
CHUNK = 1 << 20


def setting(rt: Runtime, name: str) -> float:
    """A backup setting: the agent's setting when it has one, else the default."""
    return float(getattr(rt.settings, name, DEFAULTS[name]))


def catalog(rt: Runtime) -> BackupCatalog:
    """The backup catalog over the runtime's store (one per runtime)."""
    return rt.backup_catalog


# --- plans (pure) -------------------------------------------------------------------------

Action = Literal[
    "spec",
    "database",
    "volume",
    "manifest",
    "restore_database",
    "check_counts",
    "restore_volume",
    "swap_database",
    "recreate",
    "restart",
    "drop_old_database",
    "remove_old_volume",
]


@dataclass(frozen=True)
class Step:
    action: Action
    target: str


@dataclass(frozen=True)
class PartRef:
    """What a restore plan needs to know of a backup's part."""

    kind: str
    name: str
    target: str = ""


@dataclass(frozen=True)
class BackupRef:
    """What retention needs to know of a backup: when, and whether it can be restored."""

    id: str
    created_at: datetime
    good: bool = True


def plan_backup(spec: ServiceSpec) -> list[Step]:
    """The parts of a service backup, in order; the manifest is written last."""
    steps = [Step("spec", "spec")]
    if spec.database is not None:
        steps.append(Step("database", spec.database.db))
    steps += [Step("volume", v.source) for v in spec.volumes]
    return [*steps, Step("manifest", "manifest")]


def plan_restore(
    parts: list[PartRef], targets: list[str], has_database: bool, keep_old: bool = False
) -> list[Step]:
    """Stage, check, swap, then clean up; nothing when the backup holds nothing to restore.

    ``targets`` are the mount paths of the service's volumes now: a volume part is
    restored into the volume mounted at the same path (its name may have changed).
    """
    db = next((p for p in parts if p.kind == "database"), None) if has_database else None
    vols = [p.target for p in parts if p.kind == "volume" and p.target in targets]
    if db is None and not vols:
        return []
    steps: list[Step] = []
    if db is not None:
        steps += [Step("restore_database", db.name), Step("check_counts", db.name)]
    steps += [Step("restore_volume", t) for t in vols]
    if db is not None:
        steps.append(Step("swap_database", db.name))
    steps.append(Step("recreate", "service") if vols else Step("restart", "service"))
    if keep_old:
        return steps
    if db is not None:
        steps.append(Step("drop_old_database", db.name))
    return steps + [Step("remove_old_volume", t) for t in vols]


def plan_prune(
    backups: list[BackupRef], now: datetime, last: int, daily: int, weekly: int
) -> list[str]:
    """Ids of backups to delete: keep the newest ``last``, the newest of each of the last
    ``daily`` days and ``weekly`` ISO weeks (counted back from ``now``), and always the
    newest good backup. Backups that are not good are deleted once a good one is kept."""
    good = sorted((b for b in backups if b.good), key=lambda b: b.created_at, reverse=True)
    keep = {b.id for b in good[: max(last, 1)]}
    today = now.astimezone(UTC).date()
    days = {today - timedelta(days=i) for i in range(daily)}
    weeks = {_week(today - timedelta(weeks=i)) for i in range(weekly)}
    keep |= _newest_per(good, lambda d: d if d in days else None)
    keep |= _newest_per(good, lambda d: _week(d) if _week(d) in weeks else None)
    doomed = [b for b in backups if b.id not in keep]
    if not good:  # nothing restorable: keep what there is
        doomed = []
    return [b.id for b in sorted(doomed, key=lambda b: b.created_at)]


def _week(d: date) -> tuple[int, int]:
    iso = d.isocalendar()
    return iso[0], iso[1]


def _newest_per(good: list[BackupRef], bucket: Callable[[date], Any]) -> set[str]:
    """The newest backup in each bucket (``good`` is newest first; None is no bucket)."""
    seen: dict[Any, str] = {}
    for b in good:
        key = bucket(b.created_at.astimezone(UTC).date())
        if key is not None and key not in seen:
            seen[key] = b.id
    return set(seen.values())


def is_due(
    now: datetime,
    last_good: datetime | None,
    last_attempt: datetime | None,
    since: datetime,
    interval_h: float,
    retry_h: float,
) -> bool:
    """A scheduled backup is due ``interval_h`` after the last good one (or after ``since``,
    when the service was registered), and a failed attempt is retried after ``retry_h``."""
    if interval_h <= 0:
        return False
    base = last_good or since
    if now - base < timedelta(hours=interval_h):
        return False
    return last_attempt is None or now - last_attempt >= timedelta(hours=min(retry_h, interval_h))


# --- streams ------------------------------------------------------------------------------


class ChunkReader:
    """A file-like reader over an iterable of byte chunks (no copy of the whole stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if n < 0:
            n = len(self._buf)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class HashingReader:
    """Counts and hashes what is read through it (for checks on the way out of a store)."""

    def __init__(self, stream: Readable) -> None:
        self.stream, self.size, self.digest = stream, 0, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk


def put_part(rt: Runtime, key: str, stream: Readable) -> BlobInfo:
    """Stream one part into the blob store, then its ``sha256sum -c`` sidecar."""
    info = rt.blobs.put(key, stream)
    line = f"{info.sha256}  {posixpath.basename(key)}\n".encode()
    try:
        rt.blobs.put(key + SIDECAR, io.BytesIO(line))
    except Exception:
        with contextlib.suppress(Exception):
            rt.blobs.delete(key)  # a part without its checksum is no part
        raise
    return info


@contextmanager
def checked_read(rt: Runtime, part: dict[str, Any]) -> Iterator[HashingReader]:
    """Read a part; raises ``backup_corrupt`` when its bytes are not those recorded at backup
    time, also when the reader failed first (a damaged object is named as such)."""
    with contextlib.closing(rt.blobs.open(part["key"])) as raw:
        reader = HashingReader(raw)
        try:
            yield reader
        except Exception as exc:
            if _drained_intact(reader, part):
                raise
            raise _mismatch(part, f" ({exc})") from exc
        if not _drained_intact(reader, part):
            raise _mismatch(part)


def _drained_intact(reader: HashingReader, part: dict[str, Any]) -> bool:
    """Read the rest, so the digest covers the whole object; whether it is the recorded one."""
    with contextlib.suppress(Exception):
        while reader.read(CHUNK):
            pass
    return reader.digest.hexdigest() == part["sha256"] and reader.size == part["size"]


def _mismatch(part: dict[str, Any], why: str = "") -> Conflict:
    return Conflict(
        f"The part '{part['name']}' ({part['key']}) is corrupt: its sha256 or size differs "
        f"from the one recorded at backup time{why}"[:800],
        code="backup_corrupt",
        hint="Restore an older backup; this one cannot be trusted.",
    )


def corrupt(part: dict[str, Any], exc: Exception) -> Conflict:
    """The error for a part that cannot be read back as what it claims to be."""
    return Conflict(
        f"The part '{part['name']}' ({part['key']}) could not be read back: "
        f"{type(exc).__name__}: {exc}"[:600],
        code="backup_corrupt",
        hint="Restore an older backup; this one cannot be trusted.",
    )


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


# --- service backup -----------------------------------------------------------------------


def run_backup(rt: Runtime, ctx: JobContext, spec: ServiceSpec, backup_id: str) -> dict[str, Any]:
    """The backup job: each planned part streamed, the manifest, the catalog row."""
    backup = catalog(rt).get(backup_id)
    writer = PartWriter(rt, backup)
    steps = plan_backup(spec)
    with writer.recording(ctx):
        for i, step in enumerate(steps[:-1]):
            ctx.step(f"{step.action} {step.target}", int(90 * i / len(steps)))
            writer.add(_backup_part(rt, spec, step, backup["prefix"], ctx))
        ctx.step("manifest", 95)
        return writer.finish({"format": "matrx-backup/1", "kind": "service", "service": spec.name})


def _backup_part(
    rt: Runtime, spec: ServiceSpec, step: Step, prefix: str, ctx: JobContext
) -> dict[str, Any]:
    if step.action == "spec":
        return _spec_part(rt, spec, prefix)
    if step.action == "database":
        return _database_part(rt, spec, prefix)
    volume = next(v for v in spec.volumes if v.source == step.target)
    part = _volume_part(rt, spec, volume.source, volume.target, prefix)
    ctx.log(f"volume {volume.source} ({volume.target}): {part['size']} bytes gzipped")
    return part


def _spec_part(rt: Runtime, spec: ServiceSpec, prefix: str) -> dict[str, Any]:
    """The stored spec as it is in the store: env values still encrypted."""
    body = {
        "format": "matrx-spec/1",
        "service": spec.name,
        "env_encrypted_with": "MATRX_MASTER_KEY",
        "spec": rt.store.get_service(spec.name),
    }
    key = prefix + "spec.json"
    info = put_part(rt, key, io.BytesIO(json.dumps(body, indent=1, sort_keys=True).encode()))
    return _part("spec", "spec", info, {"env_keys": sorted(spec.env)})


def _database_part(rt: Runtime, spec: ServiceSpec, prefix: str) -> dict[str, Any]:
    """``pg_dump -Fc`` streamed out of the db container; row counts recorded for checks."""
    assert spec.database is not None
    counts = rt.databases.table_counts(spec.name)
    key = prefix + "db.pgc"
    info = put_part(rt, key, ChunkReader(rt.databases.dump_stream(spec.name)))
    detail = {"db": spec.database.db, "format": "pg_dump -Fc", "tables": counts}
    return _part("database", spec.database.db, info, detail)


def _volume_part(
    rt: Runtime, spec: ServiceSpec, source: str, target: str, prefix: str
) -> dict[str, Any]:
    """A tar of the volume from the engine (as mounted at ``target``), gzipped on the fly."""
    key = f"{prefix}volume-{source}.tar.gz"
    with helper(rt, spec, {source: {"bind": target, "mode": "ro"}}, "backup") as box:
        chunks, _ = box.get_archive(target.rstrip("/"))
        info = put_part(rt, key, GzipReader(chunks))
    detail = {"source": source, "target": target, "format": "tar.gz", "tar_root": _base(target)}
    return _part("volume", source, info, detail)


def _base(target: str) -> str:
    return posixpath.basename(target.rstrip("/"))


def _part(kind: str, name: str, info: BlobInfo, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "key": info.key,
        "size": info.size,
        "sha256": info.sha256,
        "detail": detail,
    }


@contextmanager
def helper(
    rt: Runtime, spec: ServiceSpec, volumes: dict[str, dict[str, str]], purpose: str
) -> Iterator[Container]:
    """A created (never started) container holding the volumes, for the engine's archive API."""
    box = rt.docker.containers.create(
        _service_image(rt, spec),
        name=f"{spec.name}-{purpose}-{secrets.token_hex(3)}",
        labels={HELPER: purpose, "matrx.helper_of": spec.name},
        volumes=volumes,
        network_disabled=True,
    )
    try:
        yield box
    finally:
        with contextlib.suppress(APIError, DockerNotFound):
            box.remove(force=True)


def _service_image(rt: Runtime, spec: ServiceSpec) -> str:
    """The image the service runs now (it is on this host), else the spec's."""
    found = engine.service_containers(rt.docker, spec.name)
    if found:
        return str(found[0].attrs.get("Image") or spec.image)
    return spec.image


class PartWriter:
    """Collects a backup's parts; on success writes the manifest and the row, on failure
    deletes what it wrote and records the reason."""

    def __init__(self, rt: Runtime, backup: dict[str, Any]) -> None:
        self.rt, self.backup = rt, backup
        self.parts: list[dict[str, Any]] = []
        self.started = time.monotonic()

    def add(self, part: dict[str, Any]) -> None:
        self.parts.append(part)
        catalog(self.rt).update(self.backup["id"], parts=self.parts)

    def keys(self) -> list[str]:
        return [k for p in self.parts for k in (p["key"], p["key"] + SIDECAR)]

    def finish(self, about: dict[str, Any]) -> dict[str, Any]:
        key = self.backup["prefix"] + "manifest.json"
        manifest = {
            **about,
            "id": self.backup["id"],
            "created_at": self.backup["created_at"].isoformat(),
            "finished_at": utcnow().isoformat(),
            "host_prefix": getattr(self.rt.settings, "s3_prefix", ""),
            "parts": self.parts,
        }
        info = put_part(self.rt, key, io.BytesIO(json.dumps(manifest, indent=1).encode()))
        row = catalog(self.rt).update(
            self.backup["id"],
            status="succeeded",
            finished_at=utcnow(),
            seconds=round(time.monotonic() - self.started, 2),
            size=sum(p["size"] for p in self.parts),
            sha256=info.sha256,
            manifest_key=key,
            keys=[*self.keys(), key, key + SIDECAR],
            parts=self.parts,
        )
        return {"backup": row}

    @contextmanager
    def recording(self, ctx: JobContext) -> Iterator[None]:
        """Turn any failure into a failed row (never a success) and a clear job error."""
        try:
            yield
        except Exception as exc:
            err = exc if isinstance(exc, MatrxError) else _as_error(exc)
            ctx.log(f"failed: {err.message}")
            self._discard()
            catalog(self.rt).update(
                self.backup["id"],
                status="failed",
                finished_at=utcnow(),
                seconds=round(time.monotonic() - self.started, 2),
                error=err.body(),
                parts=self.parts,
            )
            if err is exc:
                raise
            raise err from exc

    def _discard(self) -> None:
        """Delete the parts written so far: a half backup must not look like a backup."""
        for key in self.keys():
            with contextlib.suppress(Exception):
                self.rt.blobs.delete(key)


def _as_error(exc: Exception, what: str = "backup") -> MatrxError:
    if isinstance(exc, DockerException):
        return engine.engine_error(exc)
    return Unavailable(
        f"The {what} failed: {type(exc).__name__}: {exc}"[:800],
        code=f"{what}_failed",
        hint=f"Read the job's log; fix the cause and run the {what} again.",
    )


# --- system backup ------------------------------------------------------------------------


def run_system_backup(rt: Runtime, ctx: JobContext, backup_id: str) -> dict[str, Any]:
    """The state store's tables as JSON lines (one gzipped object each) and Traefik's files."""
    backup = catalog(rt).get(backup_id)
    writer = PartWriter(rt, backup)
    with writer.recording(ctx):
        names = sorted(inspect(rt.store.engine).get_table_names())
        for i, name in enumerate(names):
            ctx.step(f"table {name}", int(80 * i / max(len(names), 1)))
            writer.add(_table_part(rt, name, backup["prefix"]))
        ctx.step("traefik dynamic config", 90)
        writer.add(_traefik_part(rt, backup["prefix"]))
        return writer.finish({"format": "matrx-backup/1", "kind": "system", "tables": names})


def _table_part(rt: Runtime, name: str, prefix: str) -> dict[str, Any]:
    counter = {"rows": 0}
    key = f"{prefix}tables/{name}.jsonl.gz"
    info = put_part(rt, key, GzipReader(table_lines(rt, name, counter)))
    return _part("table", name, info, {"rows": counter["rows"], "format": "jsonl.gz"})


def table_lines(rt: Runtime, name: str, counter: dict[str, int]) -> Iterator[bytes]:
    """Every row of a table as JSON lines, read with a server-side cursor in batches."""
    table = Table(name, MetaData(), autoload_with=rt.store.engine)
    stmt = select(table).order_by(*table.primary_key.columns)
    with rt.store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)
        for rows in result.partitions():
            counter["rows"] += len(rows)
            yield b"".join(
                json.dumps(to_jsonable_python(dict(r._mapping))).encode() + b"\n" for r in rows
            )


def _traefik_part(rt: Runtime, prefix: str) -> dict[str, Any]:
    """Traefik's dynamic config folder as a tar.gz (a few small files: built in memory)."""
    root: Path = rt.settings.routes_dir
    buf = io.BytesIO()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(root)))
    buf.seek(0)
    info = put_part(rt, prefix + "traefik.tar.gz", buf)
    names = [str(p.relative_to(root)) for p in files]
    return _part("traefik", "traefik", info, {"dir": str(root), "files": names})


# --- restore ------------------------------------------------------------------------------


def under_held_lock(rt: Runtime) -> ServiceManager:
    """The service manager, for a caller that holds the service's lock for its whole job."""
    manager = copy.copy(rt.services)
    manager.locks = HeldLocks()
    return manager


def renamed_volume(source: str) -> str:
    """A fresh volume name for a restore: ``<base>-r<6 hex>`` (earlier suffixes dropped)."""
    base = re.sub(r"-r[0-9a-f]{6}$", "", source)[:56]
    return f"{base}-r{secrets.token_hex(3)}"


def drop_database(rt: Runtime, service: str, name: str) -> None:
    """Drop a database beside the live one (a staged or a swapped-out one), never the live."""
    info = rt.databases.load(service)
    if info is None or name == info.db:
        raise InvalidInput(f"'{name}' is the live database of '{service}' or there is none.")
    maintenance = "template1" if info.db == "postgres" else "postgres"
    sql = f"DROP DATABASE IF EXISTS {databases.ident(name)} WITH (FORCE)"
    rt.databases.psql(rt.databases.db_container(service), sql, maintenance, info.user)


@dataclass
class Staged:
    """What a restore made beside the live service, and what it swapped."""

    fresh_db: str | None = None
    old_db: str | None = None
    volumes: dict[str, str] = field(default_factory=dict)  # target -> new volume
    old_volumes: dict[str, str] = field(default_factory=dict)  # target -> old volume
    spec_swapped: bool = False
    cleaned: list[str] = field(default_factory=list)


class Restore:
    """Applies a restore plan; on any failure puts the service back as it was."""

    def __init__(
        self,
        rt: Runtime,
        ctx: JobContext,
        spec: ServiceSpec,
        backup: dict[str, Any],
        actor: str,
        deadline: float | None,
    ) -> None:
        self.rt, self.ctx, self.spec, self.backup = rt, ctx, spec, backup
        self.actor, self.deadline = actor, deadline
        self.manager = under_held_lock(rt)
        self.staged = Staged()
        self.records: list[dict[str, Any]] = []

    def plan(self, keep_old: bool) -> list[Step]:
        refs = [
            PartRef(p["kind"], p["name"], p["detail"].get("target", ""))
            for p in self.backup["parts"]
        ]
        targets = [v.target for v in self.spec.volumes]
        return plan_restore(refs, targets, self.spec.database is not None, keep_old)

    def run(self, keep_old: bool) -> dict[str, Any]:
        steps = self.plan(keep_old)
        if not steps:
            self.ctx.log("the backup holds no database or volume this service has")
        started = time.monotonic()
        for i, step in enumerate(steps):
            self.ctx.step(f"{step.action} {step.target}", int(95 * i / len(steps)))
            t0 = time.monotonic()
            try:
                getattr(self, f"_{step.action}")(step.target)
            except Exception as exc:
                err = exc if isinstance(exc, MatrxError) else _as_error(exc, "restore")
                self._record(step, t0, False, err.message)
                self.ctx.log(f"failed at {step.action} {step.target}: {err.message}")
                self.undo()
                if err is exc:
                    raise
                raise err from exc
            self._record(step, t0, True)
        return {
            "backup_id": self.backup["id"],
            "steps": self.records,
            "volumes": self.staged.volumes,
            "kept": {
                "database": self.staged.old_db if keep_old else None,
                "volumes": self.staged.old_volumes if keep_old else {},
            },
            "cleaned": self.staged.cleaned,
            "seconds": round(time.monotonic() - started, 2),
        }

    def _record(self, step: Step, t0: float, ok: bool, error: str | None = None) -> None:
        rec = {"action": step.action, "target": step.target, "ok": ok}
        rec["seconds"] = round(time.monotonic() - t0, 3)
        if error:
            rec["error"] = error[:500]
        self.records.append(rec)

    def part(self, kind: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return next(p for p in self.backup["parts"] if p["kind"] == kind and match(p))

    # --- stage ----------------------------------------------------------------------------

    def _restore_database(self, name: str) -> None:
        part = self.part("database", lambda p: p["name"] == name)
        fresh = f"{name[:40]}_restore_{secrets.token_hex(3)}"
        self.staged.fresh_db = fresh
        try:
            with checked_read(self.rt, part) as reader:
                self.rt.databases.restore_into(self.spec.name, fresh, reader.chunks())
        except MatrxError:
            raise
        except Exception as exc:
            raise corrupt(part, exc) from exc
        self.ctx.log(f"restored {part['key']} into the fresh database {fresh}")

    def _check_counts(self, name: str) -> None:
        want = self.part("database", lambda p: p["name"] == name)["detail"].get("tables", {})
        got = self.rt.databases.table_counts(self.spec.name, self.staged.fresh_db)
        if got != want:
            diff = {
                t: [want.get(t), got.get(t)]
                for t in sorted(set(want) | set(got))
                if want.get(t) != got.get(t)
            }
            raise Conflict(
                f"The restored database does not match the backup: {json.dumps(diff)[:400]} "
                "(table: [at backup, restored]).",
                code="restore_check_failed",
                hint="Nothing was swapped; verify the backup (POST /v1/backups/{id}/verify).",
            )
        self.ctx.log(f"row counts match the backup's: {len(got)} tables")

    def _restore_volume(self, target: str) -> None:
        part = self.part("volume", lambda p: p["detail"].get("target") == target)
        old = next(v.source for v in self.spec.volumes if v.target == target)
        new = renamed_volume(old)
        self.rt.docker.volumes.create(new, labels={"matrx.restored_from": self.backup["id"]})
        self.staged.volumes[target] = new
        self.staged.old_volumes[target] = old
        parent = posixpath.dirname(target.rstrip("/")) or "/"
        try:
            with (
                checked_read(self.rt, part) as reader,
                helper(self.rt, self.spec, {new: {"bind": target, "mode": "rw"}}, "restore") as box,
            ):
                if not box.put_archive(parent, gunzip_chunks(reader)):  # type: ignore[arg-type]
                    raise Unavailable(f"The engine refused the archive for {target}.")
        except MatrxError:
            raise
        except Exception as exc:
            raise corrupt(part, exc) from exc
        self.ctx.log(f"restored {part['key']} into the new volume {new}")

    # --- swap -----------------------------------------------------------------------------

    def _swap_database(self, _name: str) -> None:
        assert self.staged.fresh_db is not None
        self.staged.old_db = self.rt.databases.swap_database(self.spec.name, self.staged.fresh_db)
        self.ctx.log(f"swapped: the previous data is kept as {self.staged.old_db}")

    def _recreate(self, _target: str) -> None:
        volumes = [
            v.model_copy(update={"source": self.staged.volumes.get(v.target, v.source)})
            for v in self.spec.volumes
        ]
        new_spec = self.spec.model_copy(update={"volumes": volumes})
        outcome = self.manager.update(new_spec, self.actor, self.deadline)
        if not outcome.ok:
            assert outcome.health is not None
            raise engine.health_failure(self.spec.name, outcome.health)
        self.staged.spec_swapped = True

    def _restart(self, _target: str) -> None:
        outcome = self.manager.restart(self.spec.name, self.actor, self.deadline)
        if not outcome.ok or (outcome.health is not None and not outcome.health.healthy):
            assert outcome.health is not None
            raise engine.health_failure(self.spec.name, outcome.health)

    # --- clean up -------------------------------------------------------------------------

    def _drop_old_database(self, _name: str) -> None:
        old = self.staged.old_db
        if not old:
            return
        self.staged.old_db = None  # the restore stands: nothing to swap back any more
        try:
            drop_database(self.rt, self.spec.name, old)
            self.staged.cleaned.append(f"database {old}")
        except (MatrxError, DockerException) as exc:
            self.ctx.log(f"kept the old database {old}: {exc}")

    def _remove_old_volume(self, target: str) -> None:
        old = self.staged.old_volumes[target]
        try:
            self.rt.docker.volumes.get(old).remove()
            self.staged.cleaned.append(f"volume {old}")
        except (APIError, DockerNotFound) as exc:  # another service may still use it
            self.ctx.log(f"kept the old volume {old}: {exc}")

    def undo(self) -> None:
        """Put the service back: the old database and volumes, a healthy container."""
        s = self.staged
        if s.old_db is not None:
            self._quietly("swap the database back", self._swap_back)
            if not s.spec_swapped:
                self._quietly("restart on the old database", lambda: self._restart("service"))
        if s.spec_swapped:  # only when a later step failed: put the old volumes back
            self._quietly("recreate on the old volumes", self._recreate_old)
        if s.fresh_db is not None:
            fresh = s.fresh_db
            self._quietly(
                f"drop the staged database {fresh}",
                lambda: drop_database(self.rt, self.spec.name, fresh),
            )
        for new in s.volumes.values():
            self._quietly(f"remove the staged volume {new}", self._volume_remover(new))

    def _swap_back(self) -> None:
        assert self.staged.old_db is not None
        # the restored data goes aside under a new name, which the undo then drops
        self.staged.fresh_db = self.rt.databases.swap_database(self.spec.name, self.staged.old_db)
        self.staged.old_db = None

    def _recreate_old(self) -> None:
        if not self.manager.update(self.spec, self.actor, self.deadline).ok:
            raise Unavailable("the service did not get healthy on its old volumes")

    def _volume_remover(self, name: str) -> Callable[[], None]:
        return lambda: self.rt.docker.volumes.get(name).remove(force=True)

    def _quietly(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
            self.ctx.log(f"undo: {what}")
        except Exception as exc:
            log.exception("restore undo failed: %s", what)
            self.ctx.log(f"undo could not {what}: {type(exc).__name__}: {exc}")


# --- verify -------------------------------------------------------------------------------


def run_verify(rt: Runtime, ctx: JobContext, backup: dict[str, Any]) -> dict[str, Any]:
    """Check every part (sha256, readability) and restore the dump into a scratch Postgres."""
    checks: list[dict[str, Any]] = []
    parts = backup["parts"]
    for i, part in enumerate(parts):
        ctx.step(f"check {part['kind']} {part['name']}", int(90 * i / max(len(parts), 1)))
        checks.append(_check_part(rt, ctx, backup, part))
    ok = bool(checks) and all(c["ok"] for c in checks)
    result = {"ok": ok, "checks": checks, "job_id": ctx.job_id}
    catalog(rt).update(backup["id"], verified_at=utcnow(), verification=result)
    if not ok:
        bad = "; ".join(f"{c['part']}: {c['error']}" for c in checks if not c["ok"])
        raise Conflict(
            f"The backup {backup['id']} failed verification: {bad}"[:800],
            code="verify_failed",
            hint="Do not rely on this backup; take a new one and verify it.",
            detail={"checks": checks},
        )
    return result


def _check_part(
    rt: Runtime, ctx: JobContext, backup: dict[str, Any], part: dict[str, Any]
) -> dict[str, Any]:
    check: dict[str, Any] = {"part": part["name"], "kind": part["kind"], "key": part["key"]}
    try:
        with checked_read(rt, part) as reader:
            check.update(_readback(rt, backup, part, reader))
    except MatrxError as exc:
        check.update(ok=False, error=exc.message)
    except Exception as exc:
        check.update(ok=False, error=corrupt(part, exc).message)
    else:
        check.update(ok=True, sha256=part["sha256"])
    ctx.log(f"{part['kind']} {part['name']}: {json.dumps(check)[:400]}")
    return check


def _readback(
    rt: Runtime, backup: dict[str, Any], part: dict[str, Any], reader: HashingReader
) -> dict[str, Any]:
    """Read a part as what it is: a dump restores, a tar lists, JSON lines count, JSON parses."""
    if part["kind"] == "database":
        return scratch_restore(rt, backup, part, reader)
    if part["kind"] in ("volume", "traefik"):
        return _tar_listing(ChunkReader(gunzip_chunks(reader)))  # type: ignore[arg-type]
    if part["kind"] == "table":
        rows = sum(_count_lines(gunzip_chunks(reader)))  # type: ignore[arg-type]
        if rows != part["detail"].get("rows"):
            raise Conflict(f"{rows} rows read back, {part['detail'].get('rows')} recorded")
        return {"rows": rows}
    json.loads(reader.read())
    return {}


def _tar_listing(stream: ChunkReader) -> dict[str, Any]:
    files = size = 0
    with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            files += int(member.isfile())
            size += member.size
    return {"files": files, "bytes": size}


def _count_lines(chunks: Iterable[bytes]) -> Iterator[int]:
    for chunk in chunks:
        yield chunk.count(b"\n")


def scratch_restore(
    rt: Runtime, backup: dict[str, Any], part: dict[str, Any], reader: HashingReader
) -> dict[str, Any]:
    """Restore the dump into a throw-away Postgres container; compare its tables and rows."""
    image = _postgres_image(rt, backup["service"])
    want = part["detail"].get("tables", {})
    cmd = ["pg_restore", "-U", "postgres", "-d", "scratch", "--no-owner", "--no-acl"]
    with scratch_postgres(rt, image, backup["id"]) as box:
        code, out = pipe_into(box, [*cmd, "--exit-on-error"], reader.chunks())
        if code != 0:
            raise Conflict(f"pg_restore into a scratch database exited with {code}: {out[-400:]}")
        rows, _ = rt.databases.psql(box, databases.COUNTS_SQL, "scratch", "postgres")
        got = {str(name): int(n or 0) for name, n in rows[1:]}
    if got != want:
        raise Conflict(f"tables or rows differ: recorded {want}, restored {got}"[:600])
    return {"tables": len(got), "rows": sum(got.values()), "image": image}


def _postgres_image(rt: Runtime, service: str) -> str:
    """The image of the service's database, else the configured Postgres image."""
    info = rt.databases.load(service)
    return info.image if info is not None else str(rt.settings.postgres_image)


@contextmanager
def scratch_postgres(rt: Runtime, image: str, tag: str) -> Iterator[Container]:
    """A Postgres container on no network, for one verification; removed afterwards."""
    box = rt.docker.containers.run(
        image,
        detach=True,
        name=f"verify-{tag}-{secrets.token_hex(3)}",
        labels={HELPER: "verify"},
        environment={
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "POSTGRES_DB": "scratch",
        },
        network_disabled=True,
    )
    try:
        rt.databases.wait_ready(box, rt.settings.health_timeout)
        yield box
    finally:
        with contextlib.suppress(APIError, DockerNotFound):
            box.remove(force=True)


def pipe_into(box: Container, cmd: list[str], chunks: Iterable[bytes]) -> tuple[int, str]:
    """Run ``cmd`` in the container with ``chunks`` as its stdin; its exit code and output."""
    api = box.client.api  # type: ignore[union-attr]
    exec_id = api.exec_create(box.id, cmd, stdin=True, stdout=True, stderr=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw: Any = getattr(sock, "_sock", sock)
    out: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(sock, out), daemon=True)
    reader.start()
    try:
        for chunk in chunks:
            raw.sendall(chunk)
        raw.shutdown(socket.SHUT_WR)  # EOF on the command's stdin
        reader.join(3600)
    finally:
        sock.close()
    code = api.exec_inspect(exec_id)["ExitCode"]
    return int(code if code is not None else -1), b"".join(out).decode(errors="replace")


def _drain(sock: Any, out: list[bytes]) -> None:
    """Read the exec's multiplexed output until EOF, keeping the first 64 KiB."""
    kept = 0
    with contextlib.suppress(OSError):
        for _stream, data in frames_iter(sock, tty=False):
            if kept < 65536:
                out.append(data)
                kept += len(data)


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
