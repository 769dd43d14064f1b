"""Verification: every part read back and checked; a database dump restored into a scratch
Postgres and its row counts compared with the backup's."""

from __future__ import annotations

import contextlib
import json
import secrets
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.errors import Conflict, MatrxError
from matrx_ship.store.store import utcnow
from onbox_agent import databases
from onbox_agent.archive import gunzip_chunks
from onbox_agent.backups.common import HELPER, catalog
from onbox_agent.backups.streams import ChunkReader, HashingReader, checked_read, corrupt
from onbox_agent.dockerexec import pipe_into
from onbox_agent.jobs import JobContext
from onbox_agent.runtime import Runtime

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
        code, out = pipe_into(rt.docker, box, [*cmd, "--exit-on-error"], reader.chunks())
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
