"""A small local outbox for records the state store could not take (the one local state).

When the store is unreachable, audit events (and other records) are appended here, in a
SQLite file beside the embedded data, each with a unique key. A flusher writes them to the
store in order when it returns and deletes each one only after the store has it; the
store ignores a key it already holds, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Outbox:
    """An ordered, durable queue of (kind, key, payload) in a local SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL)"
        )
        self._lock = threading.Lock()

    def append(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """Keep one record until the store takes it (fsynced by SQLite before returning)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?, ?, ?)",
                (kind, key, json.dumps(payload, default=str)),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def flush(self, deliver: Callable[[str, str, dict[str, Any]], None]) -> int:
        """Deliver records oldest first; stops at the first failure. Returns how many went."""
        sent = 0
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT id, kind, key, payload FROM outbox ORDER BY id LIMIT 1"
                ).fetchone()
            if row is None:
                return sent
            try:
                deliver(row[1], row[2], json.loads(row[3]))
            except Exception:
                return sent
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
            sent += 1
