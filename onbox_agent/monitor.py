"""Background sampling of every container's resources and events.

Per-container ``stats`` costs 1-2 s when done one by one, so the monitor samples
all running containers in parallel (one-shot stats on a thread pool) every
``stats_interval`` seconds and keeps the latest figures; CPU % comes from the
difference between two successive samples. The status API reads this cache and
says how old each figure is. Docker events (die, OOM, restart, health) are kept
per service in a short ring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import docker

log = logging.getLogger(__name__)
EVENT_ACTIONS = {"create", "start", "die", "kill", "oom", "restart", "stop", "destroy"}


def _sum_blkio(stats: dict[str, Any], op: str) -> int:
    rows = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return sum(r.get("value", 0) for r in rows if r.get("op", "").lower() == op)


def resource_figures(cur: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    """CPU %, memory, network and block I/O from a stats sample (and the one before)."""
    cpu = cur.get("cpu_stats") or {}
    mem = cur.get("memory_stats") or {}
    nets = (cur.get("networks") or {}).values()
    cpu_percent = None
    if prev is not None:
        pcpu = prev.get("cpu_stats") or {}
        d_total = cpu.get("cpu_usage", {}).get("total_usage", 0) - pcpu.get("cpu_usage", {}).get(
            "total_usage", 0
        )
        d_system = cpu.get("system_cpu_usage", 0) - pcpu.get("system_cpu_usage", 0)
        if d_system > 0 and d_total >= 0:
            cpu_percent = round(d_total / d_system * cpu.get("online_cpus", 1) * 100, 2)
    usage = mem.get("usage", 0) - (mem.get("stats") or {}).get("total_inactive_file", 0)
    limit = mem.get("limit") or 0
    return {
        "cpu_percent": cpu_percent,
        "memory_bytes": max(usage, 0),
        "memory_limit_bytes": limit,
        "memory_percent": round(usage / limit * 100, 2) if limit else None,
        "net_rx_bytes": sum(n.get("rx_bytes", 0) for n in nets),
        "net_tx_bytes": sum(n.get("tx_bytes", 0) for n in nets),
        "block_read_bytes": _sum_blkio(cur, "read"),
        "block_write_bytes": _sum_blkio(cur, "write"),
    }


class Monitor:
    """Keeps the latest resource figures, disk use and events of every container."""

    def __init__(self, client: docker.DockerClient, interval: float, workers: int = 32) -> None:
        self.client = client
        self.interval = interval
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats")
        self._raw: dict[str, dict[str, Any]] = {}
        self._figures: dict[str, dict[str, Any]] = {}
        self._disk: dict[str, Any] = {"containers": {}, "volumes": {}, "at": None}
        self._events: dict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=50))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_sample_at: float | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the sampling, disk and event threads."""
        for target in (self._stats_loop, self._disk_loop, self._events_loop):
            t = threading.Thread(target=target, daemon=True, name=target.__name__)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- reads ------------------------------------------------------------------------

    def figures(self, container_id: str) -> dict[str, Any] | None:
        """The latest figures of one container, with their sample time."""
        with self._lock:
            fig = self._figures.get(container_id)
            return dict(fig) if fig else None

    def disk(self, container_id: str, volumes: list[str]) -> dict[str, Any]:
        """Bytes written by the container and held by its named volumes."""
        with self._lock:
            return {
                "disk_bytes": self._disk["containers"].get(container_id),
                "volumes_bytes": sum(self._disk["volumes"].get(v, 0) or 0 for v in volumes),
                "disk_sampled_at": self._disk["at"],
            }

    def events(self, service: str) -> list[dict[str, Any]]:
        """The service's last container events, newest last."""
        with self._lock:
            return list(self._events.get(service, ()))

    def ensure_fresh(self, ids: list[str]) -> None:
        """Sample now the running containers that have no figures yet (new, or a cold start).

        Figures that exist but are old are returned as they are, with their sample
        time: the background loop renews them, and the caller never waits for it.
        """
        with self._lock:
            missing = [i for i in ids if i not in self._figures]
        if missing:
            self.sample(missing)

    # --- sampling ---------------------------------------------------------------------

    def sample(self, ids: list[str] | None = None) -> None:
        """Take one stats sample of the given (default: all running) containers in parallel."""
        everything = ids is None
        if ids is None:
            ids = [str(c.id) for c in self.client.containers.list(sparse=True)]
        results = list(self._pool.map(self._one_stats, ids))
        now = time.time()
        at = datetime.fromtimestamp(now, UTC).isoformat()
        with self._lock:
            for cid, stats in zip(ids, results, strict=True):
                if stats is None:
                    continue
                fig = resource_figures(stats, self._raw.get(cid))
                self._raw[cid] = stats
                self._figures[cid] = {**fig, "sampled_at": at, "_t": now}
            if everything:  # forget containers that stopped or were removed
                for gone in set(self._figures) - set(ids):
                    self._figures.pop(gone, None)
                    self._raw.pop(gone, None)
            self.last_sample_at = now

    def _one_stats(self, cid: str) -> dict[str, Any] | None:
        try:
            return self.client.api.stats(cid, stream=False, one_shot=True)
        except Exception:  # a container removed mid-sample answers with garbage or 404
            return None

    def _stats_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # the loop must survive an engine restart
                if self._stop.is_set():
                    return
                log.exception("stats sample failed")
            self._stop.wait(self.interval)

    def _disk_loop(self) -> None:
        while not self._stop.is_set():
            try:
                df = self.client.df()
                containers = {c["Id"]: c.get("SizeRw") for c in df.get("Containers") or []}
                volumes = {
                    v["Name"]: (v.get("UsageData") or {}).get("Size")
                    for v in df.get("Volumes") or []
                }
                with self._lock:
                    self._disk = {
                        "containers": containers,
                        "volumes": volumes,
                        "at": datetime.now(UTC).isoformat(),
                    }
            except Exception:
                log.exception("disk usage sample failed")
            self._stop.wait(max(60.0, self.interval * 6))

    def _events_loop(self) -> None:
        while not self._stop.is_set():
            try:
                stream = self.client.events(decode=True, filters={"type": "container"})
                for ev in stream:
                    self._record_event(ev)
                    if self._stop.is_set():
                        break
            except Exception:
                log.warning("docker event stream broke; reconnecting", exc_info=True)
                self._stop.wait(1.0)

    def _record_event(self, ev: dict[str, Any]) -> None:
        action = str(ev.get("Action", "")).split(":")[0]
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        service = attrs.get("matrx.service")
        if not service or (action not in EVENT_ACTIONS and action != "health_status"):
            return
        row = {
            "at": datetime.fromtimestamp(ev.get("timeNano", 0) / 1e9, UTC).isoformat(),
            "action": ev.get("Action"),
            "container": attrs.get("name"),
            "exit_code": attrs.get("exitCode"),
        }
        with self._lock:
            self._events[service].append(row)
