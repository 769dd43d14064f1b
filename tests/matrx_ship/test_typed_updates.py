"""Store updates are typed: a misspelled field is refused (by mypy and at run time), never
silently dropped, and every field an update takes is a column of its table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect

from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog, BackupRow, BackupUpdate
from matrx_ship.store.records import (
    DeploymentUpdate,
    JobUpdate,
    Records,
    ReleaseUpdate,
)
from matrx_ship.store.tables import DeploymentRow, JobRow, ReleaseRow

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    s.migrate()
    yield s
    s.dispose()


def test_a_misspelled_backup_field_is_refused_and_nothing_changes(store: Store) -> None:
    catalog = BackupCatalog(store)
    catalog.add(
        id="bak_1", kind="service", service="shop", trigger="manual", actor="a", prefix="p/"
    )
    with pytest.raises(
        TypeError, match=r"a backup has no field 'verfied_at'; it takes .*verified_at"
    ):
        catalog.update("bak_1", verfied_at=NOW, note="checked")  # type: ignore[call-arg]
    row = catalog.get("bak_1")
    assert row["verified_at"] is None and row["note"] is None


def test_a_known_backup_field_is_stored(store: Store) -> None:
    catalog = BackupCatalog(store)
    catalog.add(
        id="bak_1", kind="service", service="shop", trigger="manual", actor="a", prefix="p/"
    )
    catalog.update("bak_1", verified_at=NOW, verification={"ok": True})
    assert catalog.get("bak_1")["verified_at"] == NOW


def test_misspelled_release_job_and_deployment_fields_are_refused(store: Store) -> None:
    records = Records(store)
    records.add_release(id="rel_1", service="shop", status="building")
    records.add_job(id="job_1", kind="build", service="shop", actor="a", params={})
    records.add_deployment(id="dep_1", service="shop", kind="deploy", actor="a")
    with pytest.raises(TypeError, match="a release has no field 'finshed_at'"):
        records.update_release("rel_1", finshed_at=NOW)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="a job has no field 'stauts'"):
        records.update_job("job_1", stauts="failed")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="a deployment has no field 'outcom'"):
        records.update_deployment("dep_1", outcom="failed")  # type: ignore[call-arg]
    assert records.release("rel_1")["finished_at"] is None
    assert records.job("job_1")["status"] == "queued"
    assert records.deployments("shop")[0]["outcome"] == "running"


def test_known_release_job_and_deployment_fields_are_stored(store: Store) -> None:
    records = Records(store)
    records.add_release(id="rel_1", service="shop", status="building")
    records.add_job(id="job_1", kind="build", service="shop", actor="a", params={})
    records.add_deployment(id="dep_1", service="shop", kind="deploy", actor="a")
    assert records.update_release("rel_1", status="ready", finished_at=NOW)["status"] == "ready"
    records.update_job("job_1", status="succeeded", result={"release": "rel_1"})
    records.update_deployment("dep_1", outcome="succeeded", seconds=1.5)
    assert records.job("job_1")["result"] == {"release": "rel_1"}
    assert records.deployments("shop")[0]["seconds"] == 1.5


@pytest.mark.parametrize(
    ("update", "row"),
    [
        (ReleaseUpdate, ReleaseRow),
        (JobUpdate, JobRow),
        (DeploymentUpdate, DeploymentRow),
        (BackupUpdate, BackupRow),
    ],
)
def test_every_field_an_update_takes_is_a_column(update: type, row: type) -> None:
    columns: set[str] = set(sa_inspect(row).mapper.column_attrs.keys())
    assert set(update.__annotations__) <= columns - {"id"}
