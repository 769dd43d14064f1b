"""Short-lived, one-use tickets that let a browser open the exec websocket.

A browser cannot put the long-lived bearer token on a websocket, and should not hold
it: the console asks for a ticket with the token, and the page connects with the
ticket, which is bound to one service, expires in seconds and works once.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from matrx_ship.errors import Unauthorized
from matrx_ship.models import TokenInfo


@dataclass(frozen=True)
class Ticket:
    token: TokenInfo
    service: str
    expires: float


class Tickets:
    """Issues and redeems one-use tickets (kept in memory: they live seconds)."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    def issue(self, token: TokenInfo, service: str) -> str:
        """A new ticket for ``service`` on behalf of ``token``."""
        value = "tkt_" + secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._items = {k: t for k, t in self._items.items() if t.expires > now}
            self._items[value] = Ticket(token, service, now + self.ttl_s)
        return value

    def redeem(self, value: str, service: str) -> TokenInfo:
        """The token behind a ticket, once; Unauthorized when unknown, used, expired or foreign."""
        with self._lock:
            ticket = self._items.pop(value, None)
        if ticket is None or ticket.expires < time.monotonic() or ticket.service != service:
            raise Unauthorized(
                "The terminal ticket is unknown, used, expired or for another service.",
                hint="Ask for a new ticket: POST /v1/services/{name}/exec-ticket.",
            )
        return ticket.token
