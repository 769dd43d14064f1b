"""The store's side of a reconcile, decided from rows: the live release and the backup to use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from matrx_ship.models import ServiceSpec
from onbox_agent.reconcile.observe import (
    database_rows,
    fewer_rows,
    live_release_id,
    newest_holding,
    release_of,
    suspects,
    wanted_for,
)
from onbox_agent.reconcile.plan import Release, Wanted

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def dep(to: str, outcome: str, minutes: int) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {"to_release": to, "outcome": outcome, "started_at": at, "finished_at": at}


def backup(  # type: ignore[no-untyped-def]
    bid: str, status: str = "succeeded", rows: int | None = 10, mount: str | None = None
):
    parts: list[dict[str, Any]] = [{"kind": "spec", "name": "spec"}]
    if rows is not None:
        parts.append({"kind": "database", "name": "app", "detail": {"tables": {"t": rows}}})
    if mount:  # a volume part is named by the volume, found by where it was mounted
        parts.append({"kind": "volume", "name": "renamed-r0a1b2", "detail": {"target": mount}})
    return {"id": bid, "status": status, "parts": parts}


def test_the_live_release_is_the_newest_succeeded_deployment_not_the_newest_attempt() -> None:
    deployments = [
        dep("rel_new", "failed", 30),
        dep("rel_ok", "succeeded", 20),
        dep("rel_old", "succeeded", 10),
    ]
    assert live_release_id(deployments) == "rel_ok"


def test_a_rolled_back_service_is_live_at_the_rollback_target() -> None:
    deployments = [dep("rel_1", "succeeded", 30), dep("rel_2", "succeeded", 20)]
    assert live_release_id(deployments) == "rel_1"


def test_no_succeeded_deployment_means_no_live_release() -> None:
    assert live_release_id([dep("rel_1", "failed", 1)]) is None
    assert live_release_id([]) is None


def test_a_release_row_becomes_the_plans_release() -> None:
    row = {"id": "rel_1", "image": "matrx/web:abc", "commit_sha": "abc123", "archive_key": "k"}
    assert release_of(row) == Release("rel_1", "matrx/web:abc", "abc123", archived=True)
    assert release_of({"id": "rel_2", "image": None}) is None
    assert release_of(None) is None


def test_a_backup_with_fewer_rows_than_the_one_before_is_flagged_and_skipped() -> None:
    newest_first = [backup("b3", rows=0), backup("b2", rows=120), backup("b1", rows=100)]
    assert fewer_rows(newest_first) == {"b3"}
    assert newest_holding(newest_first, "database") == "b2"


def test_failed_backups_are_never_chosen_nor_compared() -> None:
    newest_first = [
        backup("b3", status="failed", rows=0),
        backup("b2", rows=5),
        backup("b1", rows=5),
    ]
    assert fewer_rows(newest_first) == set()
    assert newest_holding(newest_first, "database") == "b2"


def test_a_volume_comes_from_the_newest_backup_that_holds_its_mount_path() -> None:
    newest_first = [backup("b2", rows=None), backup("b1", rows=None, mount="/uploads")]
    assert newest_holding(newest_first, "volume", "/uploads") == "b1"
    assert newest_holding(newest_first, "volume", "/other") is None
    assert database_rows(newest_first[0]) is None


def test_wanted_for_a_git_service_with_a_database_and_a_volume() -> None:
    spec = ServiceSpec.model_validate(
        {
            "name": "web",
            "image": "python:3.11-slim",
            "source": {"repo": "/srv/web.git"},
            "database": {},
            "volumes": [{"source": "web-uploads", "target": "/data"}],
            "routes": [{"host": "web.example.test", "port": 8000}],
        }
    )
    release = {"id": "rel_1", "image": "matrx/web:abc", "commit_sha": "abc", "archive_key": None}
    backups = [backup("b2", rows=50, mount="/data"), backup("b1", rows=40)]
    assert wanted_for(spec, [dep("rel_1", "succeeded", 1)], release, backups) == Wanted(
        name="web",
        kind="app",
        image="python:3.11-slim",
        networks=("proxy",),
        volumes=("web-uploads",),
        database=True,
        routes=True,
        release=Release("rel_1", "matrx/web:abc", "abc", archived=False),
        buildable=True,
        database_backup="b2",
        volume_backups={"web-uploads": "b2"},
    )


def test_wanted_for_a_plain_image_service_never_looks_for_a_database_backup() -> None:
    spec = ServiceSpec.model_validate({"name": "cache", "image": "redis:7"})
    wanted = wanted_for(spec, [], None, [backup("b1", rows=3)])
    assert (wanted.database, wanted.database_backup, wanted.release) == (False, None, None)


def test_a_run_of_empty_backups_is_flagged_as_a_whole_with_the_reason() -> None:
    newest_first = [backup("b4", rows=0), backup("b3", rows=0), backup("b2", rows=7)]
    assert suspects(newest_first) == {
        "b4": "its database holds 0 rows, fewer than the 7 of b2",
        "b3": "its database holds 0 rows, fewer than the 7 of b2",
    }
    assert newest_holding(newest_first, "database") == "b2"


def test_a_growing_database_flags_nothing() -> None:
    newest_first = [backup("b3", rows=9), backup("b2", rows=9), backup("b1", rows=1)]
    assert suspects(newest_first) == {}
    assert newest_holding(newest_first, "database") == "b3"
