"""The last known state from the state store, read-only, for when the agent is gone.

The console never writes here: on PostgreSQL every session is opened read-only, so
a bug cannot change what the agent owns. Env values stay masked (they are stored
encrypted and the console has no key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from matrx_ship.models import mask
from matrx_ship.store import AuditQuery, Store


def _read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cur.close()
    dbapi_conn.commit()


class StoredState:
    """Service specs and audit events as the agent last wrote them."""

    def __init__(self, url: str) -> None:
        self.store = Store(url)
        if not self.store.is_sqlite:
            event.listen(self.store.engine, "connect", _read_only)

    def services(self) -> list[dict[str, Any]]:
        """Every stored service as a status-shaped row with its masked spec, state unknown."""
        return [_as_view(spec) for spec in self.store.list_services()]

    def audit(self, **filters: Any) -> dict[str, Any]:
        """The same answer as ``GET /v1/audit``, from the store."""
        page = self.store.audit_page(AuditQuery(**filters))
        return {**page, "events": [e.model_dump(mode="json") for e in page["events"]]}

    def last_activity(self) -> datetime | None:
        """When the agent last wrote an audit event (its last recorded change)."""
        newest = self.store.list_audit(AuditQuery(limit=1))
        return newest[0].at if newest else None

    def reachable(self) -> bool:
        try:
            self.store.ping()
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        self.store.dispose()


def _as_view(spec: dict[str, Any]) -> dict[str, Any]:
    masked = {**spec, "env": {k: mask(str(v)) for k, v in (spec.get("env") or {}).items()}}
    return {
        "name": spec["name"],
        "kind": spec.get("kind", "app"),
        "image": spec.get("image"),
        "state": "unknown",
        "health": "unknown",
        "current": None,
        "containers": [],
        "events": [],
        "spec": masked,
    }
