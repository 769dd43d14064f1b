"""What the restore's parts share: the key layout, limits, and the refusal (exit 2)."""

from __future__ import annotations

import re

from matrx_ship.errors import Conflict

SYSTEM_PREFIX = "system-backups/"
SERVICE_PREFIX = "backups/"
SIDECAR = ".sha256"
ID = re.compile(r"^bak_[0-9a-f]{12}$")
SKIP = frozenset({"alembic_version"})  # written by the migrations, never loaded
BATCH = 1000
CHUNK = 1 << 20


class Refused(Conflict):
    """The restore will not start; nothing was changed (exit 2)."""
