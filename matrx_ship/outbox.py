"""A small local outbox for records the state store could not take (the one local state).

When the store is unreachable, audit events (and other records) are appended here, in a
SQLite file beside the embedded data, each with a unique key. A flusher writes them to the
store in order when it returns and deletes each one only after the store has it; the
store ignores a key it already holds, so nothing is lost and nothing is written twice.

A record the store refuses for another reason than being away (a bad payload, a schema
the record does not fit) would block every record behind it forever: it is set aside
with the reason instead, the flush goes on, and the set-aside records are reported
(``/readyz``, the console) until a person retries or inspects them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
Transient = Callable[[BaseException], bool]


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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS set_aside (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL,"
            " reason TEXT NOT NULL, at REAL NOT NULL)"
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

    def flush(
        self,
        deliver: Callable[[str, str, dict[str, Any]], None],
        transient: Transient = lambda _exc: True,
    ) -> int:
        """Deliver records oldest first. A failure ``transient`` says is the store being away
        stops the flush (the record stays first); any other failure sets the record aside
        with its reason and the flush goes on. Returns how many were delivered."""
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
            except Exception as exc:
                if transient(exc):
                    return sent
                reason = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("outbox: %s %s refused, set aside: %s", row[1], row[2], reason)
                self._move_aside(row, reason)
                continue
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
            sent += 1

    def _move_aside(self, row: tuple[Any, ...], reason: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO set_aside (kind, key, payload, reason, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (row[1], row[2], row[3], reason, time.time()),
            )
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))

    def put_aside(self, kind: str, key: str, payload: dict[str, Any], reason: str) -> None:
        """Keep a record the store refused, with why, for a person to see and retry."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO set_aside (kind, key, payload, reason, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (kind, key, json.dumps(payload, default=str), reason[:500], time.time()),
            )

    def set_aside(self) -> list[dict[str, Any]]:
        """The records set aside, oldest first: kind, key, reason, when (epoch seconds)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, key, reason, at FROM set_aside ORDER BY id"
            ).fetchall()
        return [{"kind": k, "key": key, "reason": r, "at": at} for k, key, r, at in rows]

    def retry_set_aside(self) -> int:
        """Queue every set-aside record again (after the cause was fixed); how many."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, key, payload FROM set_aside ORDER BY id"
            ).fetchall()
            for kind, key, payload in rows:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?, ?, ?)",
                    (kind, key, payload),
                )
            self._db.execute("DELETE FROM set_aside")
        return len(rows)
