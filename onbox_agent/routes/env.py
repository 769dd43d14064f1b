"""A service's environment: masked list, set/unset/import (applied through the health gate),
export and reveal (admin, audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.requests import Request

from matrx_ship import envtext
from matrx_ship.api.base import ERRORS, TEXT_ROUTE_ERRORS
from matrx_ship.api.env import EnvApplied, MaskedEnv, Revealed
from matrx_ship.errors import NotFound
from matrx_ship.models import Scope, ServiceSpec, mask
from onbox_agent.deps import Admin, Operator, RuntimeDep, SpecDep, require
from onbox_agent.routes.services import Deadline, outcome_body
from onbox_agent.runtime import Runtime

router = APIRouter(
    prefix="/v1/services/{name}/env",
    tags=["env"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)
EnvKey = Path(pattern=f"^{envtext.KEY_PATTERN}$")


class EnvChange(BaseModel):
    set: dict[str, str] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list, max_length=500)


class EnvImport(BaseModel):
    dotenv: str = Field(max_length=512_000, description="The text of a .env file.")
    replace: bool = Field(False, description="Drop variables the text does not name.")


def _masked(spec: ServiceSpec) -> dict[str, Any]:
    return {"service": spec.name, "env": {k: mask(v) for k, v in sorted(spec.env.items())}}


def _apply(
    rt: Runtime,
    spec: ServiceSpec,
    env: dict[str, str],
    actor: str,
    request: Request,
    timeout: float | None,
) -> dict[str, Any]:
    """Recreate with the new values through the health gate; a failure keeps the old ones."""
    new = ServiceSpec.model_validate({**spec.model_dump(), "env": env})
    request.state.audit_detail = {
        "keys_set": sorted(
            set(env) - set(spec.env) | {k for k in env if spec.env.get(k) != env[k]}
        ),
        "keys_unset": sorted(set(spec.env) - set(env)),
    }
    outcome = rt.services.update(new, actor, timeout)
    body = outcome_body(rt, new, outcome, request)
    return {**_masked(new), "health": body["health"], "steps": body["steps"]}


@router.get("", response_model=MaskedEnv, response_model_exclude_unset=True)
def list_env(spec: SpecDep) -> dict[str, Any]:
    """The names of the service's variables; values are masked."""
    return _masked(spec)


@router.put("", response_model=EnvApplied, response_model_exclude_unset=True)
def change_env(
    who: Operator,
    spec: SpecDep,
    rt: RuntimeDep,
    request: Request,
    body: EnvChange,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Set and unset variables, then apply them through the health gate."""
    env = {k: v for k, v in spec.env.items() if k not in set(body.unset)} | body.set
    return _apply(rt, spec, env, who.name, request, timeout)


@router.post("/import", response_model=EnvApplied, response_model_exclude_unset=True)
def import_env(
    who: Operator,
    spec: SpecDep,
    rt: RuntimeDep,
    request: Request,
    body: EnvImport,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Merge (or replace with) the variables of a .env text, then apply them."""
    parsed = envtext.parse(body.dotenv)
    env = parsed if body.replace else spec.env | parsed
    return _apply(rt, spec, env, who.name, request, timeout)


def audited_read(request: Request) -> None:
    """Mark this read for the audit log, before any check can refuse it."""
    request.state.audit_read = True


AuditedRead = Depends(audited_read)


@router.get(
    "/export",
    response_class=PlainTextResponse,
    dependencies=[AuditedRead],
    responses=TEXT_ROUTE_ERRORS,
)
def export_env(who: Admin, spec: SpecDep, request: Request) -> PlainTextResponse:
    """The variables as a .env text with their values (admin; audited)."""
    request.state.audit_detail = {"keys": sorted(spec.env)}
    return PlainTextResponse(envtext.render(spec.env))


@router.get(
    "/{key}/reveal",
    dependencies=[AuditedRead],
    response_model=Revealed,
    response_model_exclude_unset=True,
)
def reveal(who: Admin, spec: SpecDep, request: Request, key: str = EnvKey) -> dict[str, str]:
    """One variable's value (admin; audited with the key, never the value)."""
    request.state.audit_target = f"{spec.name}/{key}"
    if key not in spec.env:
        raise NotFound(
            f"The service '{spec.name}' has no variable {key}.",
            hint=f"List them with GET /v1/services/{spec.name}/env.",
        )
    return {"key": key, "value": spec.env[key]}
