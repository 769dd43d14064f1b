"""Bearer tokens and exec tickets."""

from __future__ import annotations

from pydantic import Field

from matrx_ship.api.base import Reply
from matrx_ship.models import TokenInfo


class CreatedToken(TokenInfo):
    token: str = Field(description="Shown only once; store it now.")


class ExecTicket(Reply):
    """A one-use ticket that opens a service's terminal from a browser."""

    ticket: str
    expires_in: int
    service: str
