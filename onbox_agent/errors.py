"""The one place where errors become HTTP responses: {"error", "message", "hint"}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from matrx_ship.errors import MatrxError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, hint: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "hint": hint}, status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return "malformed_json", "The request body is not valid JSON."
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body",)) or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "invalid_input", "The request is not valid: " + "; ".join(parts) + "."


def install(app: FastAPI) -> None:
    """Register the exception handlers on the app."""

    @app.exception_handler(MatrxError)
    async def matrx_error(_: Request, exc: MatrxError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc)
        return error_response(
            422,
            code,
            message,
            "Fix the request as the message says; "
            "nothing was changed. The API is described at /openapi.json.",
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(
                404,
                "no_such_route",
                "There is no such API route.",
                "See /openapi.json for the routes.",
            )
        if exc.status_code == 405:
            return error_response(
                405,
                "method_not_allowed",
                "This route does not accept that method.",
                "See /openapi.json for the allowed methods.",
            )
        return error_response(exc.status_code, "http_error", str(exc.detail), "See /openapi.json.")

    @app.exception_handler(OperationalError)
    async def store_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("state store unreachable: %s", type(exc.orig).__name__)
        return error_response(
            503,
            "store_unavailable",
            "The state store is unreachable, so this change cannot be saved.",
            "Nothing was changed; check GET /readyz and try again shortly.",
        )

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> JSONResponse:
        return error_response(
            422,
            "invalid_input",
            "A value could not be stored: it is out of range or malformed.",
            "Send smaller numbers or plain text; nothing was changed.",
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return error_response(
            500,
            "internal",
            "The agent hit an unexpected error.",
            "Check the agent's log; nothing secret was logged.",
        )
