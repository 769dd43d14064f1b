"""What every part of backups shares: the catalog, the helper label, the sidecar suffix."""

from __future__ import annotations

from matrx_ship.store.backuptables import BackupCatalog
from onbox_agent.locks import SYSTEM_BACKUP
from onbox_agent.runtime import Runtime

HELPER = "matrx.helper"
SYSTEM_LOCK = SYSTEM_BACKUP
SIDECAR = ".sha256"
CHUNK = 1 << 20


def setting(rt: Runtime, name: str) -> float:
    """A backup setting of the agent (AgentSettings: MATRX_BACKUP_*), as a number."""
    return float(getattr(rt.settings, name))


def catalog(rt: Runtime) -> BackupCatalog:
    """The backup catalog over the runtime's store (one per runtime)."""
    return rt.backup_catalog
