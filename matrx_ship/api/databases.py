"""Each service's dedicated Postgres: status, the end-to-end audit, browsing and queries."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from matrx_ship.api.base import Reply


class DatabaseStatus(Reply):
    """The container's state and, when it runs, the server's figures."""

    service: str
    state: str | None = None
    container: str | None = None
    image: str | None = None
    volume: str | None = None
    network: str | None = None
    database: str | None = None
    user: str | None = None
    health: str | None = None
    connection_ok: bool | None = None
    server_version: str | None = None
    size_bytes: int | None = None
    connections: int | None = None
    max_connections: int | None = None
    started_at: str | None = None
    error: str | None = None


class DatabaseList(Reply):
    databases: list[DatabaseStatus]


class Finding(Reply):
    service: str
    severity: str
    code: str
    message: str
    hint: str


class DatabaseReport(Reply):
    """One database checked end to end."""

    service: str
    container: str | None
    running: bool
    ready: bool
    app_container: str | None
    app_on_network: bool
    url_current: bool
    connects: bool
    findings: list[Finding]


class DatabaseAudit(Reply):
    ok: bool
    databases: list[DatabaseReport]
    findings: list[Finding]


class TableSummary(Reply):
    name: str
    kind: str
    row_estimate: int | None = None
    size_bytes: int


class SchemaTables(Reply):
    name: str
    tables: list[TableSummary]


class Schemas(Reply):
    service: str
    database: str
    schemas: list[SchemaTables]


class Column(Reply):
    name: str
    type: str
    nullable: bool
    default: str | None = None


class Index(Reply):
    name: str
    primary: bool
    unique: bool
    definition: str


class Table(Reply):
    """A table's columns and indexes."""

    service: str
    schema_: str = Field(alias="schema")
    name: str
    kind: str
    row_estimate: int | None = None
    size_bytes: int
    columns: list[Column]
    indexes: list[Index]


class QueryResult(Reply):
    service: str
    database: str
    columns: list[Any]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    seconds: float


class Repaired(Reply):
    service: str
    actions: list[str]
    check: DatabaseReport
