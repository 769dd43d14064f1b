"""Looking at a service's database: the container's state and server figures, schemas with
their tables, and one table's columns and indexes."""

from __future__ import annotations

from typing import Any

from matrx_ship.errors import NotFound
from onbox_agent.databases.access import Access, Rows
from onbox_agent.databases.records import DbInfo
from onbox_agent.databases.sql import (
    KINDS,
    SCHEMAS_SQL,
    STATUS_SQL,
    QueryFailed,
    columns_sql,
    indexes_sql,
    literal,
)


def _status_base(service: str, info: DbInfo) -> dict[str, Any]:
    return {
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


def _figures(rows: Rows) -> dict[str, Any]:
    figures = dict(zip(rows[0], rows[1], strict=True))
    return {
        "connection_ok": True,
        "server_version": figures["server_version"],
        "size_bytes": int(figures["size_bytes"] or 0),
        "connections": int(figures["connections"] or 0),
        "max_connections": int(figures["max_connections"] or 0),
        "started_at": figures["started_at"],
    }


def _estimate(value: str | None) -> int | None:
    """A row estimate; None where PostgreSQL does not know (-1: never analyzed)."""
    est = int(value) if value is not None else -1
    return est if est >= 0 else None


def _tables(rows: Rows) -> dict[str, list[dict[str, Any]]]:
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for schema, name, kind, estimate, size in rows[1:]:
        tables = by_schema.setdefault(str(schema), [])
        if name is not None:
            tables.append(
                {
                    "name": name,
                    "kind": KINDS.get(str(kind), str(kind)),
                    "row_estimate": _estimate(estimate),
                    "size_bytes": int(size or 0),
                }
            )
    return by_schema


def _described(columns: Rows, indexes: Rows) -> dict[str, Any]:
    return {
        "columns": [
            {"name": n, "type": t, "nullable": nl == "YES", "default": d}
            for n, t, nl, d in columns[1:]
        ],
        "indexes": [
            {"name": n, "primary": p == "t", "unique": u == "t", "definition": d}
            for n, p, u, d in indexes[1:]
        ],
    }


class Browsing(Access):
    """Read-only views of a service's database for the console and the API."""

    def status(self, service: str) -> dict[str, Any]:
        """The database container's state and, when it runs, the server's figures."""
        info = self.info(service)
        out = _status_base(service, info)
        try:
            container = self.db_container(service)
        except NotFound:
            return out
        container.reload()
        state = container.attrs.get("State") or {}
        out["state"] = state.get("Status")
        out["health"] = (state.get("Health") or {}).get("Status")
        if out["state"] == "running" and self.pg_ready(container):
            try:
                rows, _ = self.psql(container, STATUS_SQL, info.db, info.user)
            except QueryFailed as exc:
                return {**out, "error": exc.message}
            out.update(_figures(rows))
        return out

    def schemas(self, service: str) -> dict[str, Any]:
        """Schemas with their tables and views, row estimates (None: never analyzed), sizes."""
        info, container = self.running_db(service)
        rows, _ = self.psql(container, SCHEMAS_SQL, info.db, info.user)
        return {
            "service": service,
            "database": info.db,
            "schemas": [{"name": s, "tables": t} for s, t in _tables(rows).items()],
        }

    def table(self, service: str, schema: str, name: str) -> dict[str, Any]:
        """One table's columns and indexes; NotFound when there is no such table."""
        info, container = self.running_db(service)
        rel = f"to_regclass(format('%I.%I', {literal(schema)}, {literal(name)}))"
        head, _ = self.psql(
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
        columns, _ = self.psql(container, columns_sql(schema, name), info.db, info.user)
        indexes, _ = self.psql(container, indexes_sql(rel), info.db, info.user)
        estimate, size, kind = head[1]
        return {
            "service": service,
            "schema": schema,
            "name": name,
            "kind": KINDS.get(str(kind), str(kind)),
            "row_estimate": _estimate(estimate),
            "size_bytes": int(size or 0),
            **_described(columns, indexes),
        }
