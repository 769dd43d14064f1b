"""Taking backups: a service's spec, database and volumes, and the system backup (the state
store's tables and Traefik's files), each part streamed with its checksum, the manifest last."""

from __future__ import annotations

import contextlib
import io
import json
import posixpath
import secrets
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container
from pydantic_core import to_jsonable_python
from sqlalchemy import MetaData, Table, inspect, select

from matrx_ship.blobs import BlobInfo
from matrx_ship.errors import MatrxError, Unavailable
from matrx_ship.models import ServiceSpec
from matrx_ship.store.store import utcnow
from onbox_agent import engine
from onbox_agent.archive import GzipReader
from onbox_agent.backups.common import HELPER, SIDECAR, catalog
from onbox_agent.backups.plans import plan_backup
from onbox_agent.backups.streams import ChunkReader, put_part
from onbox_agent.jobs import JobContext
from onbox_agent.runtime import Runtime
from onbox_agent.steps import check_handled, dispatch

# --- service backup -----------------------------------------------------------------------


def run_backup(rt: Runtime, ctx: JobContext, spec: ServiceSpec, backup_id: str) -> dict[str, Any]:
    """The backup job: each planned part streamed, the manifest, the catalog row."""
    backup = catalog(rt).get(backup_id)
    writer = PartWriter(rt, backup)
    steps = plan_backup(spec)[:-1]  # the manifest is the writer's last act
    handlers = part_handlers(rt, spec, backup["prefix"], ctx)
    check_handled(steps, handlers)
    with writer.recording(ctx):
        for i, step in enumerate(steps):
            ctx.step(f"{step.action} {step.target}", int(90 * i / (len(steps) + 1)))
            writer.add(dispatch(step, handlers))  # type: ignore[arg-type]  # each returns a part
        ctx.step("manifest", 95)
        return writer.finish({"format": "matrx-backup/1", "kind": "service", "service": spec.name})


def part_handlers(
    rt: Runtime, spec: ServiceSpec, prefix: str, ctx: JobContext
) -> dict[str, Callable[[str], dict[str, Any]]]:
    """What each backup step writes, given its target: the part's catalog entry."""

    def volume(source: str) -> dict[str, Any]:
        target = next(v.target for v in spec.volumes if v.source == source)
        part = _volume_part(rt, spec, source, target, prefix)
        ctx.log(f"volume {source} ({target}): {part['size']} bytes gzipped")
        return part

    return {
        "spec": lambda _target: _spec_part(rt, spec, prefix),
        "database": lambda _target: _database_part(rt, spec, prefix),
        "volume": volume,
    }


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
    rt: Runtime,
    spec: ServiceSpec,
    volumes: dict[str, dict[str, str]],
    purpose: str,
    image: str | None = None,
) -> Iterator[Container]:
    """A created (never started) container holding the volumes, for the engine's archive API;
    of ``image`` (it must be on the host), else of the image the service runs now."""
    box = rt.docker.containers.create(
        image or _service_image(rt, spec),
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
