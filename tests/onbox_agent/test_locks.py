"""The agent's locks: a failed job submit never leaves a lock behind."""

from __future__ import annotations

from typing import Any

import pytest

from matrx_ship.errors import ServiceBusy
from onbox_agent.locks import (
    SYSTEM_BACKUP,
    ServiceLocks,
    backup_key,
    build_key,
    locked_job,
    service_key,
)


class StoreDown(Exception):
    pass


class Jobs:
    """A job runner whose store may be down; records what it was asked to start."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.ends: list[Any] = []

    def submit(self, kind, service, actor, params, work, on_end=None):  # type: ignore[no-untyped-def]
        if self.fail:
            raise StoreDown("the state store is unreachable")
        self.ends.append(on_end)
        return {"id": "job_1", "kind": kind}


def test_keys_name_what_a_change_holds() -> None:
    assert [service_key("web"), backup_key("web"), build_key("web"), SYSTEM_BACKUP] == [
        "web",
        "web:backup",
        "web:build",
        "system:backup",
    ]


def test_a_failed_submit_releases_every_key() -> None:
    locks = ServiceLocks()
    with pytest.raises(StoreDown):
        locked_job(
            locks,
            Jobs(fail=True),  # type: ignore[arg-type]
            [service_key("web"), backup_key("web")],
            kind="restore",
            service="web",
            actor="ops",
            params={},
            work=lambda ctx: {},
        )
    assert locks.holders() == {}


def test_a_job_holds_its_keys_until_it_ends() -> None:
    locks, jobs = ServiceLocks(), Jobs()
    job = locked_job(
        locks,
        jobs,  # type: ignore[arg-type]
        [build_key("web")],
        kind="build",
        service="web",
        actor="ops",
        params={},
        work=lambda ctx: {},
    )
    assert job["kind"] == "build"
    with pytest.raises(ServiceBusy) as busy:
        locks.acquire(build_key("web"), "other", "build")
    assert "ops" in busy.value.message and "'web'" in busy.value.message
    jobs.ends[0]()
    assert locks.holders() == {}


def test_a_busy_second_key_gives_back_the_first() -> None:
    locks = ServiceLocks()
    locks.acquire(backup_key("web"), "scheduler", "backup")
    with pytest.raises(ServiceBusy):
        locks.acquire_all([service_key("web"), backup_key("web")], "ops", "restore")
    assert list(locks.holders()) == [backup_key("web")]
