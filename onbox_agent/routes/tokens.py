"""Bearer tokens: create (shown once), list, revoke. Admin only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from matrx_ship.api.base import ERRORS
from matrx_ship.api.tokens import CreatedToken
from matrx_ship.crypto import hash_token, new_token
from matrx_ship.errors import Conflict
from matrx_ship.models import Scope, TokenInfo
from onbox_agent.deps import Admin, Reader, RuntimeDep, require

router = APIRouter(
    prefix="/v1/tokens",
    tags=["tokens"],
    dependencies=[Depends(require(Scope.admin))],
    responses=ERRORS,
)


whoami_router = APIRouter(tags=["tokens"], responses=ERRORS)


class NewToken(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    scope: Scope
    expires_in_days: int | None = Field(None, ge=1, le=3650)


@router.post("", status_code=201, response_model=CreatedToken, response_model_exclude_unset=True)
def create_token(body: NewToken, rt: RuntimeDep, who: Admin, request: Request) -> CreatedToken:
    request.state.audit_target = body.name
    request.state.audit_detail = {"scope": body.scope.value}
    raw = new_token()
    expires = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )
    info = rt.store.add_token(body.name, hash_token(raw), body.scope, who.name, expires)
    return CreatedToken(**info.model_dump(), token=raw)


@whoami_router.get("/v1/whoami")
def whoami(who: Reader) -> TokenInfo:
    """The token this request carries: its name and scope (what the console may offer)."""
    return who


@router.get("")
def list_tokens(rt: RuntimeDep) -> list[TokenInfo]:
    return rt.store.list_tokens()


@router.delete("/{token_name}")
def revoke_token(token_name: str, rt: RuntimeDep) -> TokenInfo:
    if token_name == "bootstrap-admin":
        raise Conflict(
            "The bootstrap admin token comes from MATRX_ADMIN_TOKEN and cannot be revoked here.",
            hint="Change MATRX_ADMIN_TOKEN and restart the agent to replace it.",
            code="bootstrap_token",
        )
    return rt.store.revoke_token(token_name[:64])
