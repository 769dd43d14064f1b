"""Logs of managed containers shipped to the blob store continuously, so a lost host loses
at most a few seconds of log.

A daemon thread reads, about once a second, the lines after the last one it has seen of
each container of the stored services (running, and stopped ones not yet retired; not the
dedicated databases), and ships what it holds for a container every ``log_ship_seconds``,
or at once when that reaches ``log_ship_bytes``. Each chunk is a gzipped object
``logs/<service>/<container>/<first-ts>.log.gz`` recorded as a ``log_archives`` row (the
format ``archive_logs`` writes, so history search reads them unchanged). Where a container
stands is the newest ``last_at`` of its rows in the store, read when the shipper first sees
it and again before each shipment, so a restarted agent continues without duplicates and
nothing a retired container's final archive (``archive_logs``) already holds is shipped
twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound
from sqlalchemy import select

from matrx_ship.store.tables import ServiceRow
from onbox_agent import engine
from onbox_agent.archive import SHIP_LOCK, chunk_key, chunked, new_lines, store_lines
from onbox_agent.runtime import Runtime

log = logging.getLogger(__name__)
READ_SECONDS = 1.0  # how often new lines are read (the size threshold is checked as often)


def due(size: int, age: float, max_bytes: int, period: float) -> bool:
    """Whether a container's held lines ship now: the period is over or the size is reached."""
    return size > 0 and (size >= max_bytes or age >= period)


@dataclass
class Held:
    """What the shipper has read of one container and not shipped yet."""

    after: str | None  # the newest line read (held or shipped)
    shipped_at: float
    lines: list[dict[str, str]] = field(default_factory=list)
    size: int = 0

    def add(self, lines: list[dict[str, str]]) -> None:
        self.lines += lines
        self.size += sum(len(r["text"]) + len(r["ts"]) + 8 for r in lines)
        if lines:
            self.after = lines[-1]["ts"]


class LogShipper:
    """Reads new log lines about once a second; ships them per container when due."""

    def __init__(self, rt: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self.rt, self.clock = rt, clock
        self._held: dict[str, Held] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="log-shipper", daemon=True)

    def tick(self, force: bool = False) -> list[str]:
        """Read every service container's new lines; ship those due (all, with ``force``)."""
        ours = self._containers()
        self._forget(set(ours))
        self._learn([n for n in ours if n not in self._held])
        keys: list[str] = []
        for name, container in ours.items():
            held = self._held[name]
            try:
                held.add(new_lines(container, held.after))
            except (APIError, DockerNotFound):  # removed between the listing and the read
                continue
            if force or self._due(held):
                keys += self._ship(name, container.attrs["Labels"], held)
        return keys

    def _containers(self) -> dict[str, Any]:
        """The stored services' containers by name (a sparse list: no inspect per container)."""
        with self.rt.store.session() as s:
            services = set(s.scalars(select(ServiceRow.name)))
        listed = self.rt.docker.containers.list(
            all=True, sparse=True, filters={"label": f"{engine.MANAGED}=true"}
        )
        return {
            str(c.attrs["Names"][0]).lstrip("/"): c
            for c in listed
            if (c.attrs.get("Labels") or {}).get(engine.SERVICE) in services
        }

    def _forget(self, present: set[str]) -> None:
        """A container gone was retired: its final archive took what was held."""
        for name in set(self._held) - present:
            del self._held[name]

    def _learn(self, names: list[str]) -> None:
        shipped = self.rt.records.log_shipped_until(names)
        for name in names:
            self._held[name] = Held(after=shipped.get(name), shipped_at=self.clock())

    def _due(self, held: Held) -> bool:
        settings = self.rt.settings
        age = self.clock() - held.shipped_at
        return due(held.size, age, int(settings.log_ship_bytes), float(settings.log_ship_seconds))

    def _ship(self, name: str, labels: dict[str, str], held: Held) -> list[str]:
        service = labels[engine.SERVICE]
        with SHIP_LOCK:
            stored = self.rt.records.log_shipped_until([name]).get(name)
            lines = [r for r in held.lines if stored is None or r["ts"] > stored]
            keys = [
                store_lines(
                    name,
                    labels,
                    run,
                    self.rt.blobs,
                    self.rt.records,
                    chunk_key(service, name, run[0]["ts"]),
                )
                for run in chunked(lines, int(self.rt.settings.log_ship_bytes))
            ]
        held.lines, held.size, held.shipped_at = [], 0, self.clock()
        return keys

    def _loop(self) -> None:
        read = min(READ_SECONDS, float(self.rt.settings.log_ship_seconds))
        failing = False
        while not self._stop.wait(read):
            try:
                self.tick()
            except Exception as exc:  # a store, blob store or engine hiccup: a later pass
                if not failing:  # catches up; said once, not every second
                    log.warning("shipping logs failed (%s); retrying", exc, exc_info=True)
                failing = True
                continue
            if failing:
                log.info("shipping logs works again")
            failing = False

    def start(self) -> None:
        if self.rt.settings.log_ship_seconds > 0:
            self.thread.start()

    def stop(self) -> None:
        self._stop.set()


def ship_once(rt: Runtime) -> list[str]:
    """Ship every service container's unshipped lines now, as a freshly started agent would."""
    return LogShipper(rt).tick(force=True)


def start_shipper(rt: Runtime) -> LogShipper:
    """Start shipping logs (unless ``log_ship_seconds`` is 0) and keep the thread on ``rt``."""
    shipper = LogShipper(rt)
    rt.log_shipper = shipper
    shipper.start()
    return shipper


def stop_shipper(rt: Runtime) -> None:
    """Stop the shipping thread (at shutdown)."""
    if rt.log_shipper is not None:
        rt.log_shipper.stop()
