"""Each service's dedicated Postgres: audit, repair, status, schema browser, read-only console."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection, Request

from matrx_ship.api.base import ERRORS
from matrx_ship.api.databases import (
    DatabaseAudit,
    DatabaseList,
    DatabaseStatus,
    QueryResult,
    Repaired,
    Schemas,
    Table,
)
from matrx_ship.models import Scope
from onbox_agent.deps import Operator, RuntimeDep, checked_name, require

router = APIRouter(
    prefix="/v1/databases",
    tags=["databases"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)


def database_service(service: str, conn: HTTPConnection) -> str:
    """The ``{service}`` path parameter, validated (and the audit's target)."""
    conn.state.audit_target = service[:200]
    return checked_name(service)


Service = Annotated[str, Depends(database_service)]


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000, description="One read-only statement.")
    limit: int = Field(100, ge=1, le=1000, description="Rows returned at most.")
    timeout_s: float = Field(10.0, gt=0, le=30, description="Statement timeout in seconds.")


@router.get("", response_model=DatabaseList, response_model_exclude_unset=True)
def list_databases(rt: RuntimeDep) -> dict[str, Any]:
    """Every service that declares a database, with its container's state."""
    out = []
    for spec in rt.specs.list():
        if spec.database is not None:
            out.append(
                rt.databases.status(spec.name)
                if rt.databases.load(spec.name)
                else {"service": spec.name, "state": "never created"}
            )
    return {"databases": out}


@router.get("/audit", response_model=DatabaseAudit, response_model_exclude_unset=True)
def audit(
    rt: RuntimeDep,
    service: str | None = Query(None, max_length=40, description="Only this service."),
) -> dict[str, Any]:
    """Each database checked end to end, plus apps that seem to expect a database but lack one."""
    return rt.databases.audit(checked_name(service) if service else None)


@router.get("/{service}", response_model=DatabaseStatus, response_model_exclude_unset=True)
def status(service: Service, rt: RuntimeDep) -> dict[str, Any]:
    """Container state, connection, server version, size and connections."""
    return rt.databases.status(service)


@router.get("/{service}/schemas", response_model=Schemas, response_model_exclude_unset=True)
def schemas(service: Service, rt: RuntimeDep) -> dict[str, Any]:
    return rt.databases.schemas(service)


@router.get(
    "/{service}/tables/{schema}/{table}", response_model=Table, response_model_exclude_unset=True
)
def table(service: Service, schema: str, table: str, rt: RuntimeDep) -> dict[str, Any]:
    """A table's columns and indexes."""
    return rt.databases.table(service, schema[:63], table[:63])


@router.post("/{service}/query", response_model=QueryResult, response_model_exclude_unset=True)
def query(
    who: Operator, service: Service, body: QueryRequest, rt: RuntimeDep, request: Request
) -> dict[str, Any]:
    """One read-only statement in a READ ONLY transaction with a timeout; audited with its text."""
    request.state.audit_detail = {"sql": body.sql[:4000], "limit": body.limit}
    result = rt.databases.query(service, body.sql, body.limit, body.timeout_s)
    request.state.audit_detail["rows"] = result["row_count"]
    return result


@router.post("/{service}/repair", response_model=Repaired, response_model_exclude_unset=True)
def repair(who: Operator, service: Service, rt: RuntimeDep, request: Request) -> dict[str, Any]:
    """Recreate what is missing (data kept) and give the app a working DATABASE_URL again."""
    result = rt.databases.repair(service, who.name)
    request.state.audit_detail = {"actions": result["actions"]}
    return result
