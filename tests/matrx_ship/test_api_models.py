"""The response models declare every key the agent's builders and the store's rows produce,
so a route's ``response_model`` never drops one (an undeclared key would vanish silently)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from matrx_ship.api.backups import Backup, Part
from matrx_ship.api.databases import DatabaseReport, DatabaseStatus, Finding, Schemas, Table
from matrx_ship.api.host import Disk, Memory
from matrx_ship.api.jobs import Job
from matrx_ship.api.releases import Deployment, Release, RoutesReport
from matrx_ship.api.services import Container, Resources, ServiceStatus
from matrx_ship.blobs import BlobInfo
from matrx_ship.models import ServiceSpec
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.records import Records
from onbox_agent import backups, host, routing, status
from onbox_agent.databases import browsing, checks
from onbox_agent.databases.records import DbInfo
from onbox_agent.monitor import Monitor, resource_figures
from onbox_agent.settings import AgentSettings

ATTRS = {
    "Id": "c" * 64,
    "Name": "/shop--v1",
    "Created": "2026-05-01T10:00:00.123456789Z",
    "Image": "sha256:" + "a" * 64,
    "RestartCount": 1,
    "Config": {"Image": "shop:1", "Labels": {"matrx.service": "shop"}},
    "Mounts": [{"Type": "volume", "Name": "shop-data"}],
    "State": {
        "Status": "running",
        "Running": True,
        "StartedAt": "2026-05-01T10:00:01.5Z",
        "ExitCode": 0,
        "Health": {"Status": "healthy", "Log": [{"ExitCode": 0, "Output": "ok"}]},
    },
}
STATS = {
    "cpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 2000, "online_cpus": 2},
    "memory_stats": {"usage": 100, "limit": 1000},
    "networks": {"eth0": {"rx_bytes": 1, "tx_bytes": 2}},
}
INFO = DbInfo("shop", "shop-db", "shop-db-data", "shop-db-net", "postgres:16", "app", "app", "pw")


def undeclared(model: type[BaseModel], data: Any, where: str = "") -> list[str]:
    """Keys of ``data`` (recursively, through nested models and lists) ``model`` lacks."""
    if not isinstance(data, dict):
        return []
    fields = model.model_fields
    names = {f.alias or name: name for name, f in fields.items()}
    out = [f"{where}{key}" for key in data if key not in names]
    for key, value in data.items():
        if key in names:
            for inner in _models(fields[names[key]].annotation):
                items = value if isinstance(value, list) else [value]
                for item in items:
                    out += undeclared(inner, item, f"{where}{key}.")
    return out


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is list:
        for arg in typing.get_args(annotation):
            yield from _models(arg)


def declared(model: type[BaseModel], data: Any) -> None:
    assert undeclared(model, data) == []
    model.model_validate(data)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    s.migrate()
    yield s
    s.dispose()


def test_a_container_and_a_service_view_are_declared() -> None:
    monitor = Monitor(None, 1.0)  # type: ignore[arg-type]  # only its reads, no sampling
    view = status.container_view(ATTRS, monitor)
    declared(Container, view)
    declared(Resources, resource_figures(STATS, STATS) | {"sampled_at": "t"})
    spec = ServiceSpec(name="shop", image="shop:1")
    event = {"at": "t", "action": "start", "container": "shop--v1", "exit_code": None}
    declared(ServiceStatus, status.service_view(spec, [view], [event]) | {"database": view})


def test_the_rows_of_the_store_are_declared(store: Store) -> None:
    records = Records(store)
    declared(Release, records.add_release(id="rel_1", service="shop", status="building"))
    declared(Job, records.add_job(id="job_1", kind="build", service="shop", actor="a", params={}))
    declared(Deployment, records.add_deployment(id="d", service="shop", kind="deploy", actor="a"))
    catalog = BackupCatalog(store)
    row = catalog.add(
        id="bak_1", kind="service", service="s", trigger="manual", actor="a", prefix=""
    )
    part = backups._part("volume", "data", BlobInfo("k", 3, "f" * 64), {"source": "data"})
    declared(Backup, catalog.update("bak_1", parts=[part], verification={"ok": True}))
    declared(Part, part)
    assert row["id"] == "bak_1"


def test_the_database_views_are_declared() -> None:
    declared(DatabaseStatus, browsing._status_base("shop", INFO))
    finding = checks.finding("shop", "db_missing", "shop-db does not exist.")
    declared(Finding, finding)
    declared(DatabaseReport, checks._empty_report("shop", [finding]))
    rows = [["schema", "name", "kind", "estimate", "size"], ["public", "t", "r", "-1", "8192"]]
    tables = browsing._tables(rows)  # type: ignore[arg-type]
    schemas = [{"name": s, "tables": t} for s, t in tables.items()]
    declared(Schemas, {"service": "shop", "database": "app", "schemas": schemas})
    described = browsing._described(
        [["n", "t", "nl", "d"], ["id", "integer", "NO", None]],
        [["n", "p", "u", "d"], ["t_pkey", "t", "t", "CREATE UNIQUE INDEX ..."]],
    )
    table = {"service": "shop", "schema": "public", "name": "t", "kind": "table"}
    declared(Table, table | {"row_estimate": None, "size_bytes": 1, **described})


def test_the_host_figures_and_the_routes_report_are_declared(tmp_path: Path) -> None:
    declared(Disk, host.disk(str(tmp_path)))
    declared(Memory, host.meminfo())
    settings = AgentSettings(admin_token="adm_" + "x" * 32, master_key="k" * 43, data_dir=tmp_path)
    spec = ServiceSpec.model_validate(
        {"name": "shop", "image": "shop:1", "routes": [{"host": "shop.example.com", "port": 80}]}
    )
    declared(RoutesReport, routing.routes_report(settings, [spec]))


def test_the_check_finds_an_undeclared_key() -> None:
    assert undeclared(Disk, {**host.disk("/"), "inodes": 1}) == ["inodes"]
    assert undeclared(ServiceStatus, {"current": {"id": "x", "nope": 1}}) == ["current.nope"]
