"""A dedicated PostgreSQL container per service that declares ``database`` in its spec.

For a service ``svc`` the agent makes, once:

    svc-db-net   an internal bridge network shared only by the app and its database
    svc-db-data  a named volume holding PGDATA (kept when containers go)
    svc-db       the database container (labels matrx.managed=true, matrx.kind=database,
                 matrx.database_of=svc; never matrx.service, so the app's deploys ignore it)

and a row in the ``databases`` table with a random password, encrypted at rest. The
app gets ``DATABASE_URL=postgresql://user:pass@svc-db:5432/db`` injected when its
container is created (``prepare``, the ServiceManager's hook); the URL is never stored
in the spec.

The agent never connects to a container address from the host: everything on the
database side runs through ``docker exec`` inside the database container (psql,
pg_isready, pg_dump, pg_restore), and the "does the URL really connect" check runs
in a short-lived helper container on ``svc-db-net``.

For backups: ``db_container``, ``dump_stream``, ``restore_into``, ``swap_database``,
``table_counts``.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import hmac
import io
import ipaddress
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container
from docker.utils.socket import frames_iter
from requests import RequestException

from matrx_ship.errors import Conflict, InvalidInput, MatrxError, NotFound, Unavailable, Unhealthy
from matrx_ship.models import ServiceSpec
from matrx_ship.store.dbtables import DatabaseRow
from onbox_agent import engine
from onbox_agent.engine import DATABASE_OF, KIND, MANAGED

if TYPE_CHECKING:
    from onbox_agent.runtime import Runtime

PGDATA = "/var/lib/postgresql/data"
PORT = 5432
READONLY_ROLE = "matrx_readonly"
NULL = "\\N"  # how psql prints NULL here (COPY's convention)
MAX_OUTPUT = 16 * 1024 * 1024
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_URL_KEYS = re.compile(r"(DATABASE_URL|DB_HOST|DB_URL|POSTGRES_\w+|PG(HOST|DATABASE|USER)\w*)")
READ_ONLY_KEYWORDS = ("select", "with", "explain", "show", "table", "values")


# --- names and records ----------------------------------------------------------------------


@dataclass(frozen=True)
class DbInfo:
    """What exists for one service's database (the password in plain, never logged)."""

    service: str
    container: str
    volume: str
    network: str
    image: str
    db: str
    user: str
    password: str = field(repr=False)

    @property
    def url(self) -> str:
        """The DATABASE_URL the app gets (the host is the container's name on the network)."""
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.container}:{PORT}/{self.db}"


def resource_names(service: str) -> tuple[str, str, str]:
    """(container, volume, network) of a service's database."""
    return f"{service}-db", f"{service}-db-data", f"{service}-db-net"


def _now() -> datetime:
    return datetime.now(UTC)


def load(rt: Runtime, service: str) -> DbInfo | None:
    """The recorded database of a service, password decrypted; None when there is none."""
    with rt.store.session() as s:
        row = s.get(DatabaseRow, service)
        if row is None:
            return None
        return DbInfo(
            service=row.service,
            container=row.container,
            volume=row.volume,
            network=row.network,
            image=row.image,
            db=row.db,
            user=row.user,
            password=rt.box.decrypt(row.password_enc),
        )


def ensure_record(rt: Runtime, spec: ServiceSpec) -> DbInfo:
    """The service's database record, made with a fresh random password when missing."""
    found = load(rt, spec.name)
    if found is not None:
        return found
    assert spec.database is not None
    container, volume, network = resource_names(spec.name)
    password = secrets.token_urlsafe(24)
    now = _now()
    with rt.store.session() as s:
        s.add(
            DatabaseRow(
                service=spec.name,
                container=container,
                volume=volume,
                network=network,
                image=spec.database.image or rt.settings.postgres_image,
                db=spec.database.db,
                user=spec.database.user,
                password_enc=rt.box.encrypt(password),
                created_at=now,
                updated_at=now,
            )
        )
    return DbInfo(
        spec.name,
        container,
        volume,
        network,
        spec.database.image or rt.settings.postgres_image,
        spec.database.db,
        spec.database.user,
        password,
    )


def _info(rt: Runtime, service: str) -> DbInfo:
    found = load(rt, service)
    if found is None:
        raise NotFound(
            f"The service '{service}' has no database.",
            hint="Add 'database' to its spec (PUT /v1/services/{name}), or check the name.",
            code="no_database",
        )
    return found


# --- docker plumbing ------------------------------------------------------------------------


@dataclass
class ExecResult:
    code: int
    out: bytes
    err: bytes
    truncated: bool = False


def run_exec(
    client: docker.DockerClient,
    container: Container,
    cmd: list[str],
    env: dict[str, str] | None = None,
    max_bytes: int = MAX_OUTPUT,
) -> ExecResult:
    """Run a command in the container; stdout kept up to ``max_bytes`` (then cut off)."""
    api = client.api
    exec_id = api.exec_create(container.id, cmd, environment=env or {})["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    out, err, truncated = bytearray(), bytearray(), False
    try:
        for chunk_out, chunk_err in stream:
            if chunk_err and len(err) < 65536:
                err += chunk_err
            if chunk_out:
                out += chunk_out
                if len(out) > max_bytes:
                    truncated = True
                    break
    finally:
        stream.close()
    if truncated:
        return ExecResult(-1, bytes(out[:max_bytes]), bytes(err), True)
    code = api.exec_inspect(exec_id).get("ExitCode")
    return ExecResult(int(code if code is not None else -1), bytes(out), bytes(err))


def _stderr(result: ExecResult) -> str:
    text = result.err.decode(errors="replace").strip()
    return "\n".join(text.splitlines()[-5:])[-1000:] or f"exit code {result.code}"


def db_container(rt: Runtime, service: str) -> Container:
    """The service's database container (running first); NotFound when it has none.

    It is found by its labels (matrx.kind=database, matrx.database_of=<service>), never
    by name alone, so an unrelated container called ``<service>-db`` is never touched.
    """
    found = rt.docker.containers.list(
        all=True,
        filters={"label": [f"{MANAGED}=true", f"{KIND}=database", f"{DATABASE_OF}={service}"]},
    )
    if not found:
        raise NotFound(
            f"The database container of '{service}' does not exist.",
            hint=f"Create it again with POST /v1/databases/{service}/repair (data is kept).",
            code="no_database_container",
        )
    running = [c for c in found if c.status == "running"]
    return (running or found)[0]


def _running_db(rt: Runtime, service: str) -> tuple[DbInfo, Container]:
    info = _info(rt, service)
    container = db_container(rt, service)
    if container.status != "running":
        raise Unavailable(
            f"The database container {container.name} is {container.status}.",
            hint=f"Start it with POST /v1/databases/{service}/repair.",
            code="database_unavailable",
        )
    return info, container


def psql(
    rt: Runtime,
    container: Container,
    sql: str | list[str],
    db: str,
    user: str,
    env: dict[str, str] | None = None,
    max_bytes: int = MAX_OUTPUT,
) -> tuple[list[list[str | None]], bool]:
    """Run SQL with psql over the container's local socket; CSV rows (header first).

    Each item of a list is its own ``-c`` (one statement each, one session). Raises
    QueryFailed with PostgreSQL's message when psql fails.
    """
    commands = [sql] if isinstance(sql, str) else sql
    cmd = ["psql", "-X", "-q", "--csv", "-P", f"null={NULL}", "-v", "ON_ERROR_STOP=1"]
    cmd += ["-U", user, "-d", db]
    for c in commands:
        cmd += ["-c", c]
    result = run_exec(rt.docker, container, cmd, env, max_bytes)
    if result.code != 0 and not result.truncated:
        raise QueryFailed(_stderr(result))
    return parse_csv(result.out.decode(errors="replace"), result.truncated), result.truncated


def parse_csv(text: str, truncated: bool = False) -> list[list[str | None]]:
    """psql's CSV output as rows; NULL (printed as \\N) becomes None; a cut last line dropped."""
    rows = list(csv.reader(io.StringIO(text)))
    if truncated and rows:
        rows.pop()
    return [[None if cell == NULL else cell for cell in row] for row in rows]


class QueryFailed(InvalidInput):
    code = "query_failed"
    hint = "Read PostgreSQL's message, fix the statement and send it again."

    def __init__(self, message: str) -> None:
        super().__init__(f"PostgreSQL refused the statement: {message}")


def literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on in every supported version)."""
    return "'" + value.replace("'", "''") + "'"


def ident(value: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + value.replace('"', '""') + '"'


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the plain password never leaves us."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


# --- making it exist ------------------------------------------------------------------------


def prepare(rt: Runtime, spec: ServiceSpec) -> dict[str, str]:
    """The ServiceManager's hook: make the database exist and be ready; the env to inject."""
    if spec.database is None:
        return {}
    info, _actions = ensure(rt, spec)
    return {"DATABASE_URL": info.url}


def ensure(rt: Runtime, spec: ServiceSpec) -> tuple[DbInfo, list[str]]:
    """Make network, volume and container exist, run and accept connections; what was done."""
    info = ensure_record(rt, spec)
    actions: list[str] = []
    try:
        engine.ensure_image(rt.docker, info.image, rt.settings.pull_images)
        actions += _ensure_network(rt.docker, info) + _ensure_volume(rt.docker, info)
        container, done = _ensure_container(rt, spec, info)
        actions += done
        wait_ready(rt, container, rt.settings.health_timeout)
        _set_roles(rt, container, info)
    except DockerException as exc:
        raise engine.engine_error(exc) from exc
    return info, actions


def _ensure_network(client: docker.DockerClient, info: DbInfo) -> list[str]:
    if any(n.name == info.network for n in client.networks.list(names=[info.network])):
        return []
    client.networks.create(
        info.network,
        driver="bridge",
        internal=True,
        labels={MANAGED: "true", KIND: "database", DATABASE_OF: info.service},
    )
    return [f"created network {info.network}"]


def _ensure_volume(client: docker.DockerClient, info: DbInfo) -> list[str]:
    try:
        client.volumes.get(info.volume)
        return []
    except DockerNotFound:
        client.volumes.create(
            info.volume, labels={MANAGED: "true", KIND: "database", DATABASE_OF: info.service}
        )
        return [f"created volume {info.volume}"]


def _ensure_container(rt: Runtime, spec: ServiceSpec, info: DbInfo) -> tuple[Container, list[str]]:
    try:
        container = db_container(rt, info.service)
    except NotFound:
        _refuse_foreign(rt.docker, info.container)
        container = rt.docker.containers.create(**db_create_kwargs(spec, info))
        container.start()
        return container, [f"created container {info.container}"]
    actions = []
    if container.status != "running":
        container.start()
        actions.append(f"started container {container.name}")
    if not _on_network(container, info.network):
        rt.docker.networks.get(info.network).connect(container)
        actions.append(f"connected {container.name} to {info.network}")
    return container, actions


def _refuse_foreign(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(DockerNotFound):
        other = client.containers.get(name)
        raise Conflict(
            f"A container named {name} exists but is not this service's database "
            f"(labels {other.labels.get(KIND, 'none')}).",
            hint="Rename or remove that container, then repair the database.",
            code="name_taken",
        )


def db_create_kwargs(spec: ServiceSpec, info: DbInfo) -> dict[str, Any]:
    """docker-py ``containers.create`` arguments of a service's database container."""
    kw: dict[str, Any] = {
        "image": info.image,
        "name": info.container,
        "detach": True,
        "environment": {
            "POSTGRES_USER": info.user,
            "POSTGRES_PASSWORD": info.password,
            "POSTGRES_DB": info.db,
        },
        "labels": {MANAGED: "true", KIND: "database", DATABASE_OF: info.service},
        "volumes": {info.volume: {"bind": PGDATA, "mode": "rw"}},
        "network": info.network,
        "restart_policy": {"Name": "unless-stopped"},
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", info.user, "-d", info.db],
            "interval": 5 * engine.NS,
            "timeout": 3 * engine.NS,
            "retries": 3,
            "start_period": 30 * engine.NS,
        },
    }
    if spec.database and spec.database.memory_mb:
        kw["mem_limit"] = f"{spec.database.memory_mb}m"
    return kw


def _on_network(container: Container, network: str) -> bool:
    container.reload()
    return network in ((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})


def pg_ready(rt: Runtime, container: Container) -> bool:
    """pg_isready over TCP inside the container (the init-time server listens on no TCP port)."""
    try:
        result = run_exec(rt.docker, container, ["pg_isready", "-q", "-h", "127.0.0.1"])
    except APIError:
        return False
    return result.code == 0


def wait_ready(rt: Runtime, container: Container, deadline_s: float) -> float:
    """Wait until the server accepts connections; Unhealthy (with its logs) when it does not."""
    start = time.monotonic()
    while True:
        container.reload()
        state = container.attrs["State"]
        if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
            raise _unhealthy(container, f"it exited with code {state.get('ExitCode')}")
        if state.get("Running") and pg_ready(rt, container):
            return time.monotonic() - start
        if time.monotonic() - start > deadline_s:
            raise _unhealthy(container, f"it did not accept connections within {deadline_s:.0f} s")
        time.sleep(0.2)


def _unhealthy(container: Container, why: str) -> Unhealthy:
    return Unhealthy(
        f"The database container {container.name} is not ready: {why}.",
        hint="Read its last log lines in 'detail', fix the cause, then repair the database.",
        code="database_unhealthy",
        detail={"logs": engine.tail_text(container, 20)},
    )


def _set_roles(rt: Runtime, container: Container, info: DbInfo) -> None:
    """The app user's password as recorded (also for an old volume); the console's role."""
    psql(
        rt,
        container,
        [
            f"ALTER ROLE {ident(info.user)} WITH PASSWORD {literal(scram_verifier(info.password))}",
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            f"{literal(READONLY_ROLE)}) THEN CREATE ROLE {READONLY_ROLE} LOGIN; END IF; END $$",
            f"GRANT pg_read_all_data TO {READONLY_ROLE}",
        ],
        _maintenance(info),
        info.user,
    )


# --- status and browsing --------------------------------------------------------------------

STATUS_SQL = """
SELECT current_setting('server_version') AS server_version,
       current_database() AS database,
       pg_database_size(current_database()) AS size_bytes,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections,
       current_setting('max_connections')::int AS max_connections,
       pg_postmaster_start_time() AS started_at
"""

SCHEMAS_SQL = """
SELECT n.nspname, c.relname, c.relkind, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY 1, 2
"""

KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}


def status(rt: Runtime, service: str) -> dict[str, Any]:
    """The database container's state and, when it runs, the server's figures."""
    info = _info(rt, service)
    out: dict[str, Any] = {
        "service": service,
        "container": info.container,
        "image": info.image,
        "volume": info.volume,
        "network": info.network,
        "database": info.db,
        "user": info.user,
        "state": "missing",
        "health": None,
        "connection_ok": False,
    }
    try:
        container = db_container(rt, service)
    except NotFound:
        return out
    container.reload()
    state = container.attrs.get("State") or {}
    out["state"] = state.get("Status")
    out["health"] = (state.get("Health") or {}).get("Status")
    if out["state"] == "running" and pg_ready(rt, container):
        try:
            rows, _ = psql(rt, container, STATUS_SQL, info.db, info.user)
        except QueryFailed as exc:
            return {**out, "error": exc.message}
        figures = dict(zip(rows[0], rows[1], strict=True))
        out.update(
            connection_ok=True,
            server_version=figures["server_version"],
            size_bytes=int(figures["size_bytes"] or 0),
            connections=int(figures["connections"] or 0),
            max_connections=int(figures["max_connections"] or 0),
            started_at=figures["started_at"],
        )
    return out


def schemas(rt: Runtime, service: str) -> dict[str, Any]:
    """Schemas with their tables and views, row estimates (None: never analyzed) and sizes."""
    info, container = _running_db(rt, service)
    rows, _ = psql(rt, container, SCHEMAS_SQL, info.db, info.user)
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for schema, name, kind, estimate, size in rows[1:]:
        tables = by_schema.setdefault(str(schema), [])
        if name is not None:
            est = int(estimate) if estimate is not None else -1
            tables.append(
                {
                    "name": name,
                    "kind": KINDS.get(str(kind), str(kind)),
                    "row_estimate": est if est >= 0 else None,
                    "size_bytes": int(size or 0),
                }
            )
    return {
        "service": service,
        "database": info.db,
        "schemas": [{"name": s, "tables": t} for s, t in by_schema.items()],
    }


def table(rt: Runtime, service: str, schema: str, name: str) -> dict[str, Any]:
    """One table's columns and indexes; NotFound when there is no such table."""
    info, container = _running_db(rt, service)
    rel = f"to_regclass(format('%I.%I', {literal(schema)}, {literal(name)}))"
    head, _ = psql(
        rt,
        container,
        "SELECT c.reltuples::bigint, pg_total_relation_size(c.oid), c.relkind "  # noqa: S608
        f"FROM pg_class c WHERE c.oid = {rel}",
        info.db,
        info.user,
    )
    if len(head) < 2:
        raise NotFound(
            f"There is no table {schema}.{name} in the database of '{service}'.",
            hint=f"List tables with GET /v1/databases/{service}/schemas.",
            code="no_table",
        )
    columns, _ = psql(rt, container, _columns_sql(schema, name), info.db, info.user)
    indexes, _ = psql(rt, container, _indexes_sql(rel), info.db, info.user)
    estimate = int(head[1][0] or -1)
    return {
        "service": service,
        "schema": schema,
        "name": name,
        "kind": KINDS.get(str(head[1][2]), str(head[1][2])),
        "row_estimate": estimate if estimate >= 0 else None,
        "size_bytes": int(head[1][1] or 0),
        "columns": [
            {"name": n, "type": t, "nullable": nl == "YES", "default": d}
            for n, t, nl, d in columns[1:]
        ],
        "indexes": [
            {"name": n, "primary": p == "t", "unique": u == "t", "definition": d}
            for n, p, u, d in indexes[1:]
        ],
    }


def _columns_sql(schema: str, name: str) -> str:
    return (
        "SELECT column_name, data_type, is_nullable, column_default "  # noqa: S608
        "FROM information_schema.columns "
        f"WHERE table_schema = {literal(schema)} AND table_name = {literal(name)} "
        "ORDER BY ordinal_position"
    )


def _indexes_sql(rel: str) -> str:
    return (
        "SELECT i.relname, x.indisprimary, x.indisunique, pg_get_indexdef(x.indexrelid) "  # noqa: S608
        f"FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = {rel} "
        "ORDER BY i.relname"
    )


# --- the read-only query console ------------------------------------------------------------


def readonly_statement(sql: str) -> tuple[str, str]:
    """(statement, keyword) of one read-only statement; InvalidInput for anything else.

    One statement only: a single trailing ``;`` is dropped, any other ``;`` is refused
    (also inside strings: the console is for looking, not for clever SQL). The first
    word must be SELECT, WITH, EXPLAIN, SHOW, TABLE or VALUES. The transaction is read
    only as well, so a data-modifying WITH or EXPLAIN ANALYZE of a write still fails.
    """
    text = sql.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise InvalidInput("The statement is empty.", code="empty_statement")
    if ";" in text:
        raise InvalidInput(
            "Only one statement is allowed, and ';' may not appear inside it.",
            hint="Send one SELECT at a time, without ';'.",
            code="multiple_statements",
        )
    match = re.match(r"[A-Za-z]+", text)
    keyword = match.group(0).lower() if match else ""
    if keyword not in READ_ONLY_KEYWORDS:
        raise InvalidInput(
            f"The console only reads: the statement must start with one of "
            f"{', '.join(k.upper() for k in READ_ONLY_KEYWORDS)}.",
            hint="Make changes through the app or a migration, not the console.",
            code="not_read_only",
        )
    return text, keyword


def limited(statement: str, keyword: str, limit: int) -> str:
    """The statement with a row limit the server applies (one row more, to see a cut)."""
    if keyword in ("explain", "show"):
        return statement  # cut while reading instead
    # the console's purpose: the statement passed readonly_statement and runs read only
    return f"SELECT * FROM (\n{statement}\n) AS matrx_console LIMIT {limit + 1}"  # noqa: S608


def query(rt: Runtime, service: str, sql: str, limit: int, timeout_s: float) -> dict[str, Any]:
    """Run one read-only statement as the read-only role in a READ ONLY transaction."""
    statement, keyword = readonly_statement(sql)
    info, container = _running_db(rt, service)
    ms = max(1, int(timeout_s * 1000))
    env = {"PGOPTIONS": f"-c default_transaction_read_only=on -c statement_timeout={ms}"}
    started = time.monotonic()
    rows, cut = psql(
        rt,
        container,
        [
            "BEGIN READ ONLY",
            f"SET LOCAL statement_timeout = {ms}",
            limited(statement, keyword, limit),
            "ROLLBACK",
        ],
        info.db,
        READONLY_ROLE,
        env,
    )
    columns, data = (rows[0], rows[1:]) if rows else ([], [])
    return {
        "service": service,
        "database": info.db,
        "columns": columns,
        "rows": data[:limit],
        "row_count": min(len(data), limit),
        "truncated": cut or len(data) > limit,
        "seconds": round(time.monotonic() - started, 3),
    }


# --- audit and repair -----------------------------------------------------------------------

REPAIR = "Repair it with POST /v1/databases/{service}/repair."
HINTS = {
    "no_record": "Create it with POST /v1/databases/{service}/repair.",
    "no_app_container": "Start the app with POST /v1/services/{service}/recreate.",
    "spec_differs": "Renaming needs a dump and a restore; the app keeps the existing one.",
    "expects_database": "Add 'database' to the spec to get a dedicated Postgres, or ignore "
    "this when the database lives elsewhere.",
    "host_unresolved": "Fix the URL, or add 'database' to the spec.",
    "orphan_database": "Its data is kept. Dump it if needed, then remove the container and "
    "its volume by hand, or declare the database in the spec again.",
}
WARNINGS = {"no_app_container", "spec_differs", "expects_database", "orphan_database"}


def _finding(service: str, code: str, message: str) -> dict[str, str]:
    return {
        "service": service,
        "severity": "warning" if code in WARNINGS else "error",
        "code": code,
        "message": message,
        "hint": HINTS.get(code, REPAIR).format(service=service),
    }


def _env_of(container: Container) -> dict[str, str]:
    pairs = (container.attrs.get("Config") or {}).get("Env") or []
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def app_container(rt: Runtime, service: str) -> Container | None:
    """The app's live container (running first), or None."""
    found = engine.service_containers(rt.docker, service)
    running = [c for c in found if c.status == "running"]
    return (running or found)[0] if found else None


def audit(rt: Runtime, service: str | None = None) -> dict[str, Any]:
    """Every service's database checked (or one service's), plus apps that look like they
    need a database but have none. Services are checked in parallel (helpers take ~1 s)."""
    specs = [s for s in rt.specs.list() if service is None or s.name == service]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda spec: _audit_one(rt, spec), specs))
    reports = [r for r, _ in results if r is not None]
    findings = [f for _, found in results for f in found]
    if service is None:
        findings += orphans(rt, {s.name for s in specs if s.database is not None})
    return {
        "ok": not any(f["severity"] == "error" for f in findings),
        "databases": reports,
        "findings": findings,
    }


def _audit_one(
    rt: Runtime, spec: ServiceSpec
) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    if spec.database is None:
        return None, suspects(rt, spec)
    report = check(rt, spec)
    return report, report["findings"]


def orphans(rt: Runtime, owners: set[str]) -> list[dict[str, str]]:
    """Database containers whose service no longer declares a database (kept, with data)."""
    found = rt.docker.containers.list(
        all=True, sparse=True, filters={"label": [f"{MANAGED}=true", f"{KIND}=database"]}
    )
    return [
        _finding(
            of,
            "orphan_database",
            f"The database container {c.attrs['Names'][0].lstrip('/')} belongs to '{of}', "
            "which has no database in its spec (any more).",
        )
        for c in found
        if (of := (c.attrs.get("Labels") or {}).get(DATABASE_OF, "?")) not in owners
    ]


def check(rt: Runtime, spec: ServiceSpec) -> dict[str, Any]:
    """One service's database: the container exists, runs and accepts connections; the
    app is on the database network with the current URL, and that URL really connects
    from the network (psql in a helper container)."""
    service, found = spec.name, list[dict[str, str]]()
    report: dict[str, Any] = {
        "service": service,
        "container": None,
        "running": False,
        "ready": False,
        "app_container": None,
        "app_on_network": False,
        "url_current": False,
        "connects": False,
        "findings": found,
    }
    info = load(rt, service)
    if info is None:
        found.append(_finding(service, "no_record", f"'{service}' has no database made yet."))
        return report
    report["container"] = info.container
    found += _check_db_container(rt, info, report) + _check_spec(spec, info)
    app = app_container(rt, service)
    if app is None:
        found.append(_finding(service, "no_app_container", f"'{service}' has no app container."))
    else:
        found += _check_app(rt, info, app, report)
    return report


def _check_db_container(rt: Runtime, info: DbInfo, report: dict[str, Any]) -> list[dict[str, str]]:
    try:
        container = db_container(rt, info.service)
    except NotFound:
        return [_finding(info.service, "db_missing", f"{info.container} does not exist.")]
    report["running"] = container.status == "running"
    if not report["running"]:
        return [
            _finding(info.service, "db_not_running", f"{container.name} is {container.status}.")
        ]
    report["ready"] = pg_ready(rt, container)
    out = []
    if not report["ready"]:
        out.append(
            _finding(
                info.service,
                "db_not_ready",
                f"{container.name} runs but does not accept connections.",
            )
        )
    if not _on_network(container, info.network):
        out.append(
            _finding(
                info.service, "db_not_on_network", f"{container.name} is not on {info.network}."
            )
        )
    return out


def _check_spec(spec: ServiceSpec, info: DbInfo) -> list[dict[str, str]]:
    assert spec.database is not None
    if (spec.database.db, spec.database.user) == (info.db, info.user):
        return []
    return [
        _finding(
            info.service,
            "spec_differs",
            f"The spec asks for database "
            f"{spec.database.db} / user {spec.database.user}; the container serves "
            f"{info.db} / {info.user}.",
        )
    ]


def _check_app(
    rt: Runtime, info: DbInfo, app: Container, report: dict[str, Any]
) -> list[dict[str, str]]:
    service, out = info.service, list[dict[str, str]]()
    report["app_container"] = app.name
    report["app_on_network"] = _on_network(app, info.network)
    if not report["app_on_network"]:
        out.append(_finding(service, "app_not_on_network", f"{app.name} is not on {info.network}."))
    url = _env_of(app).get("DATABASE_URL")
    report["url_current"] = url == info.url
    if url is None:
        out.append(_finding(service, "url_missing", f"{app.name} has no DATABASE_URL."))
    elif not report["url_current"]:
        out.append(
            _finding(
                service,
                "url_stale",
                f"The DATABASE_URL of {app.name} is not the database's current one.",
            )
        )
    if url is not None and report["ready"]:  # else the cause is already listed
        report["connects"], why = connects(rt, info, url)
        if not report["connects"]:
            out.append(
                _finding(
                    service,
                    "url_fails",
                    f"The app's DATABASE_URL does not connect from {info.network}: {why}",
                )
            )
    return out


def connects(rt: Runtime, info: DbInfo, url: str) -> tuple[bool, str]:
    """Whether ``url`` connects from the database network: psql in a short-lived helper."""
    try:
        rt.docker.networks.get(info.network)
    except DockerNotFound:
        return False, f"the network {info.network} does not exist"
    script = 'psql "$DATABASE_URL" -X -tA -c "select 1"'
    env = {"DATABASE_URL": url, "PGCONNECT_TIMEOUT": "5"}
    code, text = _helper(rt, info.image, info.network, ["sh", "-c", script], env, info.service)
    return code == 0 and text.strip().endswith("1"), text.strip()[-300:]


def _helper(
    rt: Runtime, image: str, network: str, cmd: list[str], env: dict[str, str], service: str
) -> tuple[int, str]:
    """Run a command in a throwaway container on ``network``: (exit code, output)."""
    container = rt.docker.containers.create(
        image,
        cmd,
        name=f"{service}-db-check-{secrets.token_hex(3)}",
        environment=env,
        network=network,
        labels={MANAGED: "true", KIND: "database-check", DATABASE_OF: service},
        detach=True,
    )
    try:
        container.start()
        try:
            code = int(container.wait(timeout=30).get("StatusCode", -1))
        except RequestException:  # still running after 30 s: count it as failed
            return -1, "the check did not finish within 30 s"
        return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


def suspects(rt: Runtime, spec: ServiceSpec) -> list[dict[str, str]]:
    """Findings for a service without ``database`` whose env suggests it expects one
    (names only: values are secrets, except the URL's host)."""
    keys = sorted(k for k in spec.env if _URL_KEYS.fullmatch(k))
    if not keys:
        return []
    out = [
        _finding(
            spec.name,
            "expects_database",
            f"'{spec.name}' has {', '.join(keys)} in its env but no database in its spec.",
        )
    ]
    url = spec.env.get("DATABASE_URL")
    host = urlsplit(url).hostname if url else None
    if host and not _resolves(rt, spec, host):
        out.append(
            _finding(
                spec.name,
                "host_unresolved",
                f"The DATABASE_URL names the host "
                f"{host}, which does not resolve from the app's network.",
            )
        )
    return out


def _resolves(rt: Runtime, spec: ServiceSpec, host: str) -> bool:
    """Whether ``host`` resolves on the app's first network (checked in a helper container)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    if host == "localhost" or not spec.networks:
        return True
    try:
        rt.docker.images.get(rt.settings.postgres_image)
        cmd = ["getent", "hosts", host]
        code, _ = _helper(rt, rt.settings.postgres_image, spec.networks[0], cmd, {}, spec.name)
    except (ImageNotFound, DockerNotFound):
        return True  # nothing to check with: say nothing rather than guess
    return code == 0


def repair(rt: Runtime, service: str, actor: str) -> dict[str, Any]:
    """Recreate what is missing: network, volume, container (data kept), the app's network,
    and the app itself (through the health gate) when its DATABASE_URL is stale."""
    spec = rt.specs.get(service)
    if spec.database is None:
        raise Conflict(
            f"The service '{service}' declares no database.",
            hint="Add 'database' to its spec with PUT /v1/services/{name}.",
            code="no_database",
        )
    with rt.locks.hold(service, actor, "repair database"):
        info, actions = ensure(rt, spec)
        app = app_container(rt, service)
        stale = app is None or _env_of(app).get("DATABASE_URL") != info.url
        if app is not None and not stale:
            actions += _join(rt, app, info)
    if stale:
        outcome = rt.services.recreate(service, actor)
        if outcome.health is not None and not outcome.health.healthy:
            raise engine.health_failure(service, outcome.health)
        actions.append(f"recreated the app as {outcome.container} with the current DATABASE_URL")
        fresh = app_container(rt, service)
        if fresh is not None:
            actions += _join(rt, fresh, info)
    return {"service": service, "actions": actions, "check": check(rt, spec)}


def _join(rt: Runtime, app: Container, info: DbInfo) -> list[str]:
    if _on_network(app, info.network):
        return []
    rt.docker.networks.get(info.network).connect(app)
    return [f"connected {app.name} to {info.network}"]


# --- for backups ----------------------------------------------------------------------------


def dump_stream(rt: Runtime, service: str, db: str | None = None) -> Iterator[bytes]:
    """``pg_dump -Fc`` of the service's live database (or ``db``), streamed out of
    ``docker exec`` as it is produced (no temp file). Raises MatrxError at the end when
    pg_dump failed, so a caller that stores the stream must discard it then."""
    info, container = _running_db(rt, service)
    api = rt.docker.api
    cmd = ["pg_dump", "-Fc", "-U", info.user, "-d", db or info.db]
    exec_id = api.exec_create(container.id, cmd)["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    err = bytearray()
    try:
        for out, chunk_err in stream:
            if chunk_err and len(err) < 65536:
                err += chunk_err
            if out:
                yield out
    finally:
        stream.close()
    code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        raise MatrxError(
            f"pg_dump of '{service}' failed: {err.decode(errors='replace').strip()[-500:]}",
            hint="Check the database with GET /v1/databases/{service}.",
            code="dump_failed",
        )


def restore_into(rt: Runtime, service: str, target_db: str, stream: Iterable[bytes]) -> None:
    """Create the database ``target_db`` (it must not exist) and ``pg_restore`` the custom
    format dump from ``stream`` into it, fed through the exec's stdin. The live database is
    never touched; on failure ``target_db`` is dropped again and MatrxError raised."""
    info, container = _running_db(rt, service)
    target = _check_target(target_db, info)
    psql(
        rt,
        container,
        f"CREATE DATABASE {ident(target)} OWNER {ident(info.user)}",
        _maintenance(info),
        info.user,
    )
    cmd = ["pg_restore", "-U", info.user, "-d", target, "--no-owner", "--exit-on-error"]
    try:
        code, err = _exec_stdin(rt.docker, container, cmd, stream)
    except BaseException:
        _drop(rt, container, info, target)
        raise
    if code != 0:
        _drop(rt, container, info, target)
        raise MatrxError(
            f"pg_restore into {target} failed (exit {code}): {err[-500:]}",
            hint="The live database is untouched; check that the dump is a pg_dump -Fc file.",
            code="restore_failed",
        )


def _check_target(target_db: str, info: DbInfo) -> str:
    if not _IDENT.fullmatch(target_db) or target_db in (
        info.db,
        "postgres",
        "template0",
        "template1",
    ):
        raise InvalidInput(
            f"'{target_db[:70]}' cannot be a restore target: it must be a new database name "
            "(lowercase letters, digits, _), not the live one.",
            code="invalid_target",
        )
    return target_db


def _maintenance(info: DbInfo) -> str:
    return "template1" if info.db == "postgres" else "postgres"


def _drop(rt: Runtime, container: Container, info: DbInfo, db: str) -> None:
    with contextlib.suppress(MatrxError, DockerException):
        psql(
            rt,
            container,
            f"DROP DATABASE IF EXISTS {ident(db)} WITH (FORCE)",
            _maintenance(info),
            info.user,
        )


def _exec_stdin(
    client: docker.DockerClient, container: Container, cmd: list[str], chunks: Iterable[bytes]
) -> tuple[int, str]:
    """Run ``cmd`` with ``chunks`` as its stdin over the exec socket; (exit code, stderr)."""
    api = client.api
    exec_id = api.exec_create(container.id, cmd, stdin=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw: socket.socket = getattr(sock, "_sock", sock)  # type: ignore[arg-type]
    output: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(sock, output), daemon=True)
    reader.start()
    try:
        for chunk in chunks:
            raw.sendall(chunk)
        raw.shutdown(socket.SHUT_WR)  # EOF on the command's stdin
        reader.join(3600)
    finally:
        sock.close()
    code = api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), b"".join(output).decode(errors="replace")


def _drain(sock: Any, output: list[bytes]) -> None:
    """Read the exec's multiplexed output until EOF, keeping the first 64 KiB."""
    kept = 0
    with contextlib.suppress(OSError):
        for _stream, data in frames_iter(sock, tty=False):
            if kept < 65536:
                output.append(data)
                kept += len(data)


def swap_database(rt: Runtime, service: str, new_db: str) -> str:
    """Put ``new_db`` live under the live database's name; the old one is renamed aside to
    ``<db>_old_<UTC timestamp>`` (kept, returned). Connections to both are ended first;
    new connections to the live name are refused until the swap is done."""
    info, container = _running_db(rt, service)
    new = _check_target(new_db, info)
    old = f"{info.db[:44]}_old_{_now():%Y%m%d%H%M%S}"
    live, m = ident(info.db), _maintenance(info)
    psql(rt, container, f"ALTER DATABASE {live} ALLOW_CONNECTIONS false", m, info.user)
    try:
        psql(
            rt,
            container,
            [  # wait up to 5 s for each ended backend to be gone, then both renames or none
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "  # noqa: S608
                f"WHERE datname IN ({literal(info.db)}, {literal(new)}) "
                "AND pid <> pg_backend_pid()",
                "BEGIN",
                f"ALTER DATABASE {live} RENAME TO {ident(old)}",
                f"ALTER DATABASE {ident(new)} RENAME TO {live}",
                "COMMIT",
            ],
            m,
            info.user,
        )
    finally:
        with contextlib.suppress(MatrxError):
            psql(rt, container, f"ALTER DATABASE {live} ALLOW_CONNECTIONS true", m, info.user)
        with contextlib.suppress(MatrxError):
            psql(rt, container, f"ALTER DATABASE {ident(old)} ALLOW_CONNECTIONS true", m, info.user)
    return old


COUNTS_SQL = """
SELECT schemaname || '.' || tablename,
       (xpath('/row/c/text()', query_to_xml(
           format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename),
           false, true, '')))[1]::text::bigint
FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


def table_counts(rt: Runtime, service: str, db: str | None = None) -> dict[str, int]:
    """Exact row counts (``count(*)``) of every table, keyed ``schema.table``, of the live
    database or ``db``; for checking a restore against its source."""
    info, container = _running_db(rt, service)
    rows, _ = psql(rt, container, COUNTS_SQL, db or info.db, info.user)
    return {str(name): int(count or 0) for name, count in rows[1:]}
