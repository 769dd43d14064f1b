"""What every response model shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# A JSON object whose keys are open by design (job params and results, evidence, details).
Detail = dict[str, Any]


class Reply(BaseModel):
    """A response body: unknown keys are ignored (never an error on either side)."""

    model_config = ConfigDict(populate_by_name=True)


class Open(Reply):
    """A response body open by design: keys beyond the declared ones are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ErrorBody(Reply):
    """Every error the agent answers: a code, a sentence, and the next step."""

    error: str
    message: str
    hint: str
    detail: Detail | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


def _json_error(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


# The error answers every authenticated route may give, for ``APIRouter(responses=...)``.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No token, or an unknown, expired or revoked one."),
    403: _error("The token's scope does not allow this."),
    404: _error("No such route or object."),
    409: _error("A conflict: the object is busy or in the wrong state."),
    422: _error("The request is not valid; nothing was changed."),
    503: _error("The engine or the state store is unreachable."),
}
# The same for a route that answers text: its errors are still JSON (``model`` would put
# them under the route's own media type).
TEXT_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _json_error(r["description"]) for code, r in ERRORS.items()
}
