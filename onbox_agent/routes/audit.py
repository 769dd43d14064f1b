"""The audit log: who did what to which target, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query

from matrx_ship.api.audit import AuditPage
from matrx_ship.api.base import ERRORS
from matrx_ship.models import Scope
from matrx_ship.paging import DEFAULT_LIMIT, MAX_ID, MAX_LIMIT
from matrx_ship.store import AuditQuery
from onbox_agent.deps import RuntimeDep, require

router = APIRouter(
    prefix="/v1/audit",
    tags=["audit"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)


@router.get("", response_model=AuditPage, response_model_exclude_unset=True)
def list_audit(
    rt: RuntimeDep,
    actor: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=64),
    target: str | None = Query(None, max_length=200),
    outcome: Literal["allowed", "denied", "failed"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> dict[str, object]:
    """Newest first; page with ``before_id`` = the last id of the previous page."""
    query = AuditQuery(actor, action, target, outcome, since, until, before_id, limit)
    return dict(rt.store.audit_page(query))
