"""Liveness (open), readiness and Prometheus metrics (authenticated)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from matrx_ship import __version__
from matrx_ship.api.base import ERRORS, TEXT_ROUTE_ERRORS
from matrx_ship.api.health import Healthz, Readyz
from matrx_ship.models import Scope
from matrx_ship.store.canary import HINT, canary_ok
from onbox_agent.deps import RuntimeDep, require
from onbox_agent.reconcile.observe import missing_services, missing_warning
from onbox_agent.runtime import Runtime

open_router = APIRouter(tags=["health"])
router = APIRouter(tags=["health"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)


@open_router.get("/healthz", response_model=Healthz, response_model_exclude_unset=True)
def healthz() -> dict[str, str]:
    """Liveness: the process answers. No auth, nothing sensitive."""
    return {"status": "ok", "version": __version__}


def _check(fn: Any) -> dict[str, Any]:
    try:
        fn()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _missing_services(rt: Runtime) -> list[str]:
    try:
        return missing_services(rt.docker, [s.name for s in rt.specs.list()])
    except Exception:  # readiness itself reports the store and the engine
        return []


def _master_key(rt: Runtime) -> dict[str, Any]:
    """Whether MATRX_MASTER_KEY decrypts the store's canary (a wrong key decrypts nothing)."""
    try:
        ok = canary_ok(rt.store, rt.box)
    except Exception as exc:
        return {"ok": False, "error": f"cannot read the canary: {type(exc).__name__}"}
    if ok is False:
        return {
            "ok": False,
            "error": "MATRX_MASTER_KEY does not decrypt the store's canary: every secret "
            "in this store is unreadable with it",
            "hint": HINT,
        }
    return {"ok": True}


@router.get(
    "/readyz",
    response_model=Readyz,
    response_model_exclude_unset=True,
    responses={503: {"model": Readyz, "description": "Not ready: a dependency is down."}},
)
def readyz(rt: RuntimeDep) -> JSONResponse:
    """Readiness: Docker engine, state store, blob store, the master key (the store's canary),
    and the embedded-defaults warning."""
    checks = {
        "docker": _check(rt.docker.ping),
        "store": _check(rt.store.ping),
        "blobs": _check(rt.blobs.check),
        "master_key": _master_key(rt),
    }
    ready = all(c["ok"] for c in checks.values())
    embedded = rt.settings.embedded
    warnings = [f"NOT DURABLE: {e}; a lost disk loses it" for e in embedded]
    missing = _missing_services(rt) if ready else []
    if line := missing_warning(missing):
        warnings.insert(0, line)
    aside = rt.outbox.set_aside()
    if aside:
        warnings.insert(
            0,
            f"OUTBOX BLOCKED: {len(aside)} record(s) the state store refused are set aside "
            f"(first: {aside[0]['reason'][:160]}). Fix the cause, then retry them (console: "
            "Agent page, Outbox, Retry).",
        )
    body = {
        "ready": ready,
        "checks": checks,
        "durable": not embedded,
        "outbox_pending": len(rt.outbox),
        "outbox_set_aside": len(aside),
        "warnings": warnings,
        "missing_services": missing,
        "version": __version__,
        "env": rt.settings.env,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        **TEXT_ROUTE_ERRORS,
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    },
)
def metrics(rt: RuntimeDep) -> Response:
    """Prometheus metrics of the agent and the containers it manages."""
    return Response(generate_latest(rt.registry), media_type=CONTENT_TYPE_LATEST)
