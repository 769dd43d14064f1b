"""Long work (build, deploy, rollback, backup) as jobs with stored progress events.

``submit`` records the job and answers at once; the work runs on a small thread pool
and reports steps, percent and log lines through ``JobContext``. Every event is
stored (so a late viewer replays it) and pushed to live websocket subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic_core import to_jsonable_python

from matrx_ship.errors import MatrxError
from matrx_ship.store.records import Records
from matrx_ship.store.store import utcnow

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")


class JobContext:
    """What a job's work uses to report progress."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self.runner, self.job_id = runner, job_id
        self.started = time.monotonic()

    def step(self, name: str, percent: int | None = None) -> None:
        """A new step (shown to people as the job's current state)."""
        self.runner.emit(self.job_id, "step", {"step": name, "percent": percent})
        self.runner.records.update_job(self.job_id, step=name[:200], percent=percent)

    def log(self, line: str) -> None:
        """One line of the job's log."""
        self.runner.emit(self.job_id, "log", {"line": line.rstrip("\n")[:4000]})


Work = Callable[[JobContext], dict[str, Any]]


class JobRunner:
    """Runs jobs on threads; stores their rows and events; fans events out live."""

    def __init__(self, records: Records, workers: int = 4) -> None:
        self.records = records
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._subscribers: dict[
            str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]]
        ] = {}
        self._lock = threading.Lock()

    def submit(
        self,
        kind: str,
        service: str | None,
        actor: str,
        params: dict[str, Any],
        work: Work,
        on_end: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Record a job and start it; returns the job row at once."""
        job_id = "job_" + secrets.token_hex(8)
        job = self.records.add_job(
            id=job_id, kind=kind, service=service, actor=actor, params=params
        )
        self._pool.submit(self._run, job_id, work, on_end)
        return job

    def _run(self, job_id: str, work: Work, on_end: Callable[[], None] | None) -> None:
        ctx = JobContext(self, job_id)
        self.records.update_job(job_id, status="running", started_at=utcnow())
        status, result, error = "succeeded", {}, None
        try:
            result = to_jsonable_python(work(ctx))
        except MatrxError as exc:
            status, error = "failed", exc.body()
        except Exception as exc:
            log.exception("job %s crashed", job_id)
            status, error = (
                "failed",
                {
                    "error": "internal",
                    "message": f"{type(exc).__name__}: {exc}",
                    "hint": "Check the agent's log.",
                },
            )
        finally:
            if on_end is not None:
                on_end()
        try:
            self.records.update_job(
                job_id,
                status=status,
                finished_at=utcnow(),
                result=result,
                error=error,
                percent=100 if status == "succeeded" else None,
            )
            self.emit(job_id, "end", {"status": status, "result": result, "error": error})
        except Exception:  # the outcome must be recorded even when the result is odd
            log.exception("could not record the end of job %s", job_id)
            self.records.update_job(
                job_id,
                status="failed",
                finished_at=utcnow(),
                error={
                    "error": "internal",
                    "message": "result not storable",
                    "hint": "Check the agent's log.",
                },
            )

    def emit(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        """Store an event and push it to the job's live subscribers."""
        event_id = self.records.add_event(job_id, kind, data)
        event = {"id": event_id, "kind": kind, **data}
        with self._lock:
            targets = list(self._subscribers.get(job_id, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def subscribe(self, job_id: str) -> asyncio.Queue[Any]:
        """A queue that receives the job's events from now on (call from the event loop)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        with self._lock:
            self._subscribers.setdefault(job_id, []).append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[Any]) -> None:
        with self._lock:
            subs = self._subscribers.get(job_id, [])
            self._subscribers[job_id] = [s for s in subs if s[1] is not queue]
            if not self._subscribers[job_id]:
                del self._subscribers[job_id]

    def interrupt_leftovers(self) -> list[str]:
        """Mark jobs that were queued or running when the agent died as interrupted."""
        ids = []
        for status in ACTIVE:
            for job in self.records.jobs(status=status, limit=1000):
                self.records.update_job(
                    job["id"],
                    status="interrupted",
                    finished_at=utcnow(),
                    error={
                        "error": "interrupted",
                        "hint": "Run it again.",
                        "message": "The agent stopped while this job ran.",
                    },
                )
                self.emit(job["id"], "end", {"status": "interrupted"})
                ids.append(job["id"])
        return ids
