"""The state store from a Lambda, and the audit line each step of the deploy tier writes.

The Lambdas reach PostgreSQL with the pure-Python pg8000 driver (`open_store`), because
their bundle cannot carry psycopg's compiled one.
"""

from __future__ import annotations

import hashlib
import ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from matrx_ship.models import AuditEvent
from matrx_ship.store import Store
from matrx_ship.store.store import utcnow

ACTOR = "deploy-tier"  # the audit actor of every step the deploy tier takes

_SSL_MODES = {"require", "verify-ca", "verify-full"}


def pg8000_url(url: str) -> tuple[str, dict[str, Any]]:
    """A libpq-style PostgreSQL URL as SQLAlchemy's pg8000 URL and its connect arguments.

    `sslmode=require` encrypts without checking the certificate (libpq's meaning),
    `verify-ca` checks the chain, `verify-full` the chain and the host name; other query
    parameters are dropped (pg8000 knows none of libpq's).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    mode = (parse_qs(parts.query).get("sslmode") or ["disable"])[0]
    args: dict[str, Any] = {"timeout": 10}
    if mode in _SSL_MODES:
        ctx = ssl.create_default_context()
        ctx.check_hostname = mode == "verify-full"
        if mode == "require":
            ctx.verify_mode = ssl.CERT_NONE
        args["ssl_context"] = ctx
    return urlunsplit(("postgresql+pg8000", parts.netloc, parts.path, "", "")), args


class Pg8000Store(Store):
    """The state store over pg8000, the pure-Python driver a Lambda bundle can carry.

    `Store.__init__` hands psycopg's `connect_timeout` to the driver, which pg8000 does not
    accept; this builds the same engine with pg8000's arguments instead.
    """

    def __init__(self, url: str) -> None:
        sa_url, connect_args = pg8000_url(url)
        super().__init__(sa_url, connect_args=connect_args)


def open_store(url: str) -> Store:
    """The state store at `url`: PostgreSQL through pg8000, or an SQLite file (a laptop)."""
    return Store(url) if url.startswith("sqlite") else Pg8000Store(url)


def audit_step(
    store: Store,
    *,
    action: str,
    target: str,
    ok: bool,
    detail: dict[str, Any],
    key: str,
    status: int = 0,
) -> int:
    """Write one audit event by the deploy tier; the same `key` is written only once."""
    event = AuditEvent(
        at=utcnow(),
        actor=ACTOR,
        action=action,
        target=target,
        outcome="allowed" if ok else "failed",
        status=status or (200 if ok else 500),
        detail=detail,
    )
    return store.append_audit(event, event_key=hashlib.sha256(key.encode()).hexdigest()[:64])
