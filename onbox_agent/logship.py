"""Logs of managed containers shipped to the blob store continuously, so a lost host loses
at most a few seconds of log.

Every ``log_ship_seconds`` a daemon thread reads, for each of the services' containers
(running or stopped but not yet retired), the lines after the last one already shipped, and
writes them as gzipped chunks ``logs/<service>/<container>/<first-ts>.log.gz``, each at most
``log_ship_bytes`` of text and each recorded as a ``log_archives`` row (the format
``archive_logs`` writes, so history search reads them unchanged). Where a container stands
is the newest ``last_at`` of its rows in the store, so a restarted agent continues without
duplicates; a retired container's final archive ships only the rest (``archive_logs``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound

from onbox_agent import engine
from onbox_agent.archive import SHIP_LOCK, chunk_key, chunked, new_lines, store_lines
from onbox_agent.runtime import Runtime

log = logging.getLogger(__name__)


def ship_once(rt: Runtime) -> list[str]:
    """Ship every service container's new lines now; returns the keys written."""
    containers = rt.docker.containers.list(all=True, filters={"label": f"{engine.MANAGED}=true"})
    ours = [c for c in containers if c.labels.get(engine.SERVICE)]  # not databases, helpers
    keys: list[str] = []
    with SHIP_LOCK:
        shipped = rt.records.log_shipped_until([str(c.name) for c in ours])
        for container in ours:
            keys += _ship(rt, container, shipped.get(str(container.name)))
    return keys


def _ship(rt: Runtime, container: Any, after: str | None) -> list[str]:
    try:
        lines = new_lines(container, after)
    except (APIError, DockerNotFound):  # removed between the listing and the read
        return []
    service = container.labels[engine.SERVICE]
    return [
        store_lines(
            container, run, rt.blobs, rt.records, chunk_key(service, container.name, run[0]["ts"])
        )
        for run in chunked(lines, int(rt.settings.log_ship_bytes))
    ]


class LogShipper:
    """The thread that calls ``ship_once`` every ``log_ship_seconds`` until stopped."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="log-shipper", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(float(self.rt.settings.log_ship_seconds)):
            try:
                ship_once(self.rt)
            except Exception:  # a store, blob store or engine hiccup: the next pass catches up
                log.warning("shipping logs failed; retrying next pass", exc_info=True)

    def start(self) -> None:
        if self.rt.settings.log_ship_seconds > 0:
            self.thread.start()

    def stop(self) -> None:
        self._stop.set()


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
