"""Where a view's data comes from: the live agent, or what is left when it is gone.

Live reads go through the agent client (and feed the console's memory); when the
agent does not answer, the last snapshot the console saw is merged with the specs
in the state store and everything is marked stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from dashboard.lib.console import Console
from dashboard.lib.memory import Snapshot


def snapshot(con: Console, max_age_s: float | None = None) -> Snapshot:
    """Every service's status; raises AgentError when the live agent refuses."""
    if con.live and con.client is not None:
        age = con.settings.refresh_s if max_age_s is None else max_age_s
        cached = con.memory.fresh(age)
        if cached is not None:
            return cached
        body = con.client.services()
        snap = Snapshot(body["services"], body.get("unmanaged", []), datetime.now(UTC))
        con.memory.remember(snap)
        return snap
    return stale_snapshot(con)


def plain(answer: BaseModel) -> dict[str, Any]:
    """A typed answer of the client as the JSON the agent sent: what rows and changes read."""
    return answer.model_dump(mode="json", by_alias=True, exclude_unset=True)


def stale_snapshot(con: Console) -> Snapshot:
    """The last snapshot seen, with services known only to the state store added."""
    last = con.memory.snapshot
    seen = {s["name"]: s for s in last.services} if last else {}
    stored = con.stored.services() if con.stored is not None else []
    merged = [seen.get(s["name"], s) | {"spec": s["spec"]} for s in stored]
    merged += [s for name, s in seen.items() if name not in {m["name"] for m in merged}]
    return Snapshot(merged, last.unmanaged if last else [], last_contact(con) or _epoch(), False)


def last_contact(con: Console) -> datetime | None:
    """The console's own last contact, or the agent's last recorded activity in the store."""
    moments = [con.memory.last_contact]
    if con.stored is not None:
        moments.append(_safe_last_activity(con))
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _safe_last_activity(con: Console) -> datetime | None:
    try:
        return con.stored.last_activity() if con.stored else None
    except SQLAlchemyError:  # the store may be down too; the views say so when they read it
        return None


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


def audit(con: Console, **filters: Any) -> dict[str, Any]:
    """Audit events from the agent, or from the state store when the agent is gone."""
    if con.live and con.client is not None:
        return con.client.audit(**{k: _param(v) for k, v in filters.items()})
    if con.stored is None:
        return {"events": [], "next_before_id": None}
    return con.stored.audit(**filters)


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
