"""The agent's locks: one change at a time per key, and one way to run a locked job.

A key names what a change holds: the service itself (deploys, lifecycle, restore),
its backups (backup, verify, prune, restore), its builds, or the system backup.
``locked_job`` takes the keys, starts the job and gives the keys back when the job
ends, or at once when the job cannot be started (the store is down, the pool is
closed): a lock is never left behind by a failed submit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from matrx_ship.errors import ServiceBusy

if TYPE_CHECKING:
    from onbox_agent.jobs import JobRunner, Work


def service_key(name: str) -> str:
    """The service's own key: deploys, lifecycle changes, restores, repairs."""
    return name


def backup_key(name: str) -> str:
    """The service's backups: one backup, verify, prune or restore at a time."""
    return f"{name}:backup"


def build_key(name: str) -> str:
    """The service's builds: one build at a time, beside a running deploy."""
    return f"{name}:build"


SYSTEM_BACKUP = "system:backup"
RECONCILE = "system:reconcile"  # the reconcile job; it also holds every service's backup key


@dataclass
class Holder:
    actor: str
    action: str
    since: datetime


class ServiceLocks:
    """At most one change per key; a second one is refused at once with who holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, Holder] = {}
        self._taken_at: dict[str, float] = {}  # key -> when a change last took it (monotonic)

    @contextmanager
    def hold(self, name: str, actor: str, action: str) -> Iterator[None]:
        self.acquire(name, actor, action)
        try:
            yield
        finally:
            self.release(name)

    def acquire(self, name: str, actor: str, action: str) -> None:
        """Take the lock, or raise ServiceBusy naming who holds it."""
        with self._guard:
            holder = self._held.get(name)
            if holder is not None:
                label = name.split(":", 1)[0]
                raise ServiceBusy(
                    f"The service '{label}' is busy: {holder.actor} started '{holder.action}' "
                    f"at {holder.since:%H:%M:%S} UTC.",
                    detail={
                        "held_by": holder.actor,
                        "action": holder.action,
                        "since": holder.since.isoformat(),
                    },
                )
            self._held[name] = Holder(actor, action, datetime.now(UTC))
            self._taken_at[name] = time.monotonic()

    def taken_since(self, name: str, since: float) -> bool:
        """Whether a change took the key after ``since`` (``time.monotonic``)."""
        with self._guard:
            return self._taken_at.get(name, -1.0) > since

    def acquire_all(self, keys: Sequence[str], actor: str, action: str) -> None:
        """Take every key in order, or none of them."""
        taken: list[str] = []
        try:
            for key in keys:
                self.acquire(key, actor, action)
                taken.append(key)
        except BaseException:
            self.release_all(taken)
            raise

    def release(self, name: str) -> None:
        with self._guard:
            self._held.pop(name, None)

    def release_all(self, keys: Sequence[str]) -> None:
        for key in reversed(keys):
            self.release(key)

    def holders(self) -> dict[str, Holder]:
        with self._guard:
            return dict(self._held)


class HeldLocks(ServiceLocks):
    """For a job that already holds the service's lock: lifecycle calls nest inside it."""

    @contextmanager
    def hold(self, name: str, actor: str, action: str) -> Iterator[None]:
        yield


def locked_job(
    locks: ServiceLocks,
    jobs: JobRunner,
    keys: Sequence[str],
    *,
    kind: str,
    service: str | None,
    actor: str,
    params: dict[str, Any],
    work: Work,
    action: str | None = None,
) -> dict[str, Any]:
    """Take ``keys``, start ``work`` as a job and release the keys when it ends.

    If the job cannot be recorded or started, the keys are released before the
    error goes on to the caller.
    """
    keys = list(keys)
    locks.acquire_all(keys, actor, action or kind)
    try:
        return jobs.submit(
            kind, service, actor, params, work, on_end=lambda: locks.release_all(keys)
        )
    except BaseException:
        locks.release_all(keys)
        raise
