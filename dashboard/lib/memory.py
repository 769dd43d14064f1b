"""What the console remembers of an agent between page runs, in its own process memory.

Not durable: it starts empty with the console. It holds the last contact with the
agent, the last status snapshot (shown, marked stale, when the agent stops
answering) and a rolling history of each service's resource figures for the
overview charts. A durable history comes from the agent or the probes later.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.lib.fmt import parse_time


@dataclass(frozen=True)
class Snapshot:
    """Every service's status at one moment; ``live`` is False when it comes from memory/store."""

    services: list[dict[str, Any]]
    unmanaged: list[dict[str, Any]]
    at: datetime
    live: bool = True

    def find(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.services if s["name"] == name), None)

    def manager(self) -> str | None:
        """The name of the service of kind 'manager', if one is registered."""
        return next((s["name"] for s in self.services if s.get("kind") == "manager"), None)


class ResourceHistory:
    """Per-service CPU, memory and disk figures over the last ``keep``, one row per sample."""

    def __init__(self, keep: timedelta) -> None:
        self.keep = keep
        self._rows: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def record(self, services: list[dict[str, Any]]) -> None:
        """Add each running service's latest figures (once per agent sample)."""
        for service in services:
            row = _row(service)
            if row is not None:
                self._add(service["name"], row)

    def _add(self, name: str, row: dict[str, Any]) -> None:
        with self._lock:
            rows = self._rows.setdefault(name, deque())
            if rows and rows[-1]["at"] >= row["at"]:
                return
            rows.append(row)
            while rows and rows[0]["at"] < row["at"] - self.keep:
                rows.popleft()

    def rows(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rows.get(name, ()))


def _row(service: dict[str, Any]) -> dict[str, Any] | None:
    current = service.get("current") or {}
    figures = current.get("resources") or {}
    at = parse_time(figures.get("sampled_at"))
    if at is None:
        return None
    return {
        "at": at,
        "cpu_percent": figures.get("cpu_percent"),
        "memory_mib": (figures.get("memory_bytes") or 0) / 2**20,
        "disk_mib": ((current.get("disk_bytes") or 0) + (current.get("volumes_bytes") or 0))
        / 2**20,
    }


@dataclass
class AgentMemory:
    """Everything remembered about one agent (keyed by its URL)."""

    history: ResourceHistory
    last_contact: datetime | None = None
    snapshot: Snapshot | None = None
    readiness: tuple[datetime, dict[str, Any]] | None = None  # the last GET /readyz
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def contact(self) -> None:
        self.last_contact = datetime.now(UTC)

    def fresh(self, max_age_s: float) -> Snapshot | None:
        """The last snapshot when younger than ``max_age_s``."""
        snap = self.snapshot
        if snap is None or (datetime.now(UTC) - snap.at).total_seconds() > max_age_s:
            return None
        return snap

    def remember(self, snap: Snapshot) -> None:
        with self._lock:
            self.snapshot = snap
            self.last_contact = snap.at
        self.history.record(snap.services)

    def forget_snapshot(self) -> None:
        """After a change, so the next read asks the agent."""
        self.snapshot = None
