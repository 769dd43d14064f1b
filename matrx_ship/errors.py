"""Domain errors, translated to HTTP once, at the agent's boundary.

    MatrxError                      (500 internal)
    ├── NotFound                    (404)  unknown service, token, container
    ├── Conflict                    (409)  busy service, duplicate name, wrong state
    │   └── ServiceBusy             (409)  another change holds the service's lock
    ├── InvalidInput                (422)  bad name, bad spec, hostile regex
    ├── Unauthorized                (401)  no or unknown token
    ├── Forbidden                   (403)  token scope too small
    ├── PayloadTooLarge             (413)
    ├── Unhealthy                   (504)  a container missed its health deadline
    └── Unavailable                 (503)  Docker engine, store or blob store unreachable

Every error carries a machine code, a sentence a person understands and a hint
saying what to do next; the HTTP body is {"error", "message", "hint"}.
"""

from __future__ import annotations

from typing import Any


class MatrxError(Exception):
    """Base of every error the system reports to a person."""

    status = 500
    code = "internal"
    hint = "Check the agent's log; if it repeats, report it with the request id."

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        if code is not None:
            self.code = code
        self.detail = detail or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of this error."""
        out: dict[str, Any] = {"error": self.code, "message": self.message, "hint": self.hint}
        if self.detail:
            out["detail"] = self.detail
        return out


class NotFound(MatrxError):
    status = 404
    code = "not_found"
    hint = "List what exists with GET /v1/services and check the spelling."


class Conflict(MatrxError):
    status = 409
    code = "conflict"
    hint = "Reload the current state and try again."


class ServiceBusy(Conflict):
    code = "service_busy"
    hint = "Wait for the running operation to finish, then try again."


class InvalidInput(MatrxError):
    status = 422
    code = "invalid_input"
    hint = "Fix the request as the message says; nothing was changed."


class Unauthorized(MatrxError):
    status = 401
    code = "unauthorized"
    hint = "Send a valid token as 'Authorization: Bearer <token>'."


class Forbidden(MatrxError):
    status = 403
    code = "forbidden"
    hint = "Ask an admin for a token with a larger scope."


class PayloadTooLarge(MatrxError):
    status = 413
    code = "payload_too_large"
    hint = "Send a smaller request body."


class Unhealthy(MatrxError):
    status = 504
    code = "unhealthy"
    hint = "Read the container's logs (GET /v1/services/{name}/logs) to see why it is not healthy."


class Unavailable(MatrxError):
    status = 503
    code = "unavailable"
    hint = "Check GET /readyz to see which dependency is down."
