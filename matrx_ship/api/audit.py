"""The audit log, one page at a time."""

from __future__ import annotations

from matrx_ship.api.base import Reply
from matrx_ship.models import AuditEvent


class AuditPage(Reply):
    """One page, newest first, and the cursor of the next older one (None: the last page)."""

    events: list[AuditEvent]
    next_before_id: int | None
