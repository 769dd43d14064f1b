"""What backups need of a service's database, all through ``docker exec`` in its container:
a streamed ``pg_dump -Fc``, a ``pg_restore`` into a new database, the swap of a restored
database into the live name, exact row counts, and dropping a database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from docker.errors import DockerException
from docker.models.containers import Container

from matrx_ship.errors import InvalidInput, MatrxError
from onbox_agent.databases.access import Access
from onbox_agent.databases.records import DbInfo, now
from onbox_agent.databases.sql import COUNTS_SQL, IDENT, ident, literal
from onbox_agent.dockerexec import KEPT_STDERR, pipe_into


def check_target(target_db: str, info: DbInfo) -> str:
    """``target_db`` when it may be made by a restore: a new plain name, not the live one."""
    reserved = (info.db, "postgres", "template0", "template1")
    if not IDENT.fullmatch(target_db) or target_db in reserved:
        raise InvalidInput(
            f"'{target_db[:70]}' cannot be a restore target: it must be a new database name "
            "(lowercase letters, digits, _), not the live one.",
            code="invalid_target",
        )
    return target_db


def swap_sql(info: DbInfo, new: str, old: str) -> list[str]:
    """End the sessions of both databases (waiting up to 5 s each), then both renames or none."""
    live = ident(info.db)
    return [
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "  # noqa: S608
        f"WHERE datname IN ({literal(info.db)}, {literal(new)}) "
        "AND pid <> pg_backend_pid()",
        "BEGIN",
        f"ALTER DATABASE {live} RENAME TO {ident(old)}",
        f"ALTER DATABASE {ident(new)} RENAME TO {live}",
        "COMMIT",
    ]


class Dumps(Access):
    """Dump, restore, swap, count and drop, for backups and their verification."""

    def dump_stream(self, service: str, db: str | None = None) -> Iterator[bytes]:
        """``pg_dump -Fc`` of the service's live database (or ``db``), streamed out of
        ``docker exec`` as it is produced (no temp file). Raises MatrxError at the end when
        pg_dump failed, so a caller that stores the stream must discard it then."""
        info, container = self.running_db(service)
        api = self.docker.api
        cmd = ["pg_dump", "-Fc", "-U", info.user, "-d", db or info.db]
        exec_id = api.exec_create(container.id, cmd)["Id"]
        stream = api.exec_start(exec_id, stream=True, demux=True)
        err = bytearray()
        try:
            for out, chunk_err in stream:
                if chunk_err and len(err) < KEPT_STDERR:
                    err += chunk_err
                if out:
                    yield out
        finally:
            stream.close()
        if api.exec_inspect(exec_id).get("ExitCode") != 0:
            raise MatrxError(
                f"pg_dump of '{service}' failed: {err.decode(errors='replace').strip()[-500:]}",
                hint="Check the database with GET /v1/databases/{service}.",
                code="dump_failed",
            )

    def restore_into(self, service: str, target_db: str, stream: Iterable[bytes]) -> None:
        """Create the database ``target_db`` (it must not exist) and ``pg_restore`` the custom
        format dump from ``stream`` into it, fed through the exec's stdin. The live database
        is never touched; on failure ``target_db`` is dropped again and MatrxError raised."""
        info, container = self.running_db(service)
        target = check_target(target_db, info)
        create = f"CREATE DATABASE {ident(target)} OWNER {ident(info.user)}"
        self.psql(container, create, info.maintenance, info.user)
        cmd = ["pg_restore", "-U", info.user, "-d", target, "--no-owner", "--exit-on-error"]
        try:
            code, err = pipe_into(self.docker, container, cmd, stream)
        except BaseException:
            self.drop(container, info, target)
            raise
        if code != 0:
            self.drop(container, info, target)
            raise MatrxError(
                f"pg_restore into {target} failed (exit {code}): {err[-500:]}",
                hint="The live database is untouched; check that the dump is a pg_dump -Fc file.",
                code="restore_failed",
            )

    def drop(self, container: Container, info: DbInfo, db: str) -> None:
        """Drop ``db`` (ending its sessions) if it exists; a failure is only swallowed."""
        with contextlib.suppress(MatrxError, DockerException):
            sql = f"DROP DATABASE IF EXISTS {ident(db)} WITH (FORCE)"
            self.psql(container, sql, info.maintenance, info.user)

    def swap_database(self, service: str, new_db: str) -> str:
        """Put ``new_db`` live under the live database's name; the old one is renamed aside
        to ``<db>_old_<UTC timestamp>`` (kept, returned). Connections to both are ended
        first; new connections to the live name are refused until the swap is done."""
        info, container = self.running_db(service)
        new = check_target(new_db, info)
        old = f"{info.db[:44]}_old_{now():%Y%m%d%H%M%S}"
        self._allow(container, info, info.db, False)
        try:
            self.psql(container, swap_sql(info, new, old), info.maintenance, info.user)
        finally:
            for name in (info.db, old):
                with contextlib.suppress(MatrxError):
                    self._allow(container, info, name, True)
        return old

    def _allow(self, container: Container, info: DbInfo, db: str, allow: bool) -> None:
        sql = f"ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS {str(allow).lower()}"
        self.psql(container, sql, info.maintenance, info.user)

    def table_counts(self, service: str, db: str | None = None) -> dict[str, int]:
        """Exact row counts (``count(*)``) of every table, keyed ``schema.table``, of the live
        database or ``db``; for checking a restore against its source."""
        info, container = self.running_db(service)
        rows, _ = self.psql(container, COUNTS_SQL, db or info.db, info.user)
        return {str(name): int(count or 0) for name, count in rows[1:]}
