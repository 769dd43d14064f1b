"""Backups and restores over the real engine, a real Postgres container, moto's S3 and the
host's PostgreSQL: what a person sees in the API, the blob store and the service's data."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import docker
import psycopg
import pytest

from matrx_ship.client import AgentClient, AgentError
from matrx_ship.models import ServiceSpec
from onbox_agent import backups
from onbox_agent.backups import (
    BackupRef,
    PartRef,
    Step,
    backup_refs,
    is_due,
    last_times,
    plan_backup,
    plan_prune,
    plan_restore,
)
from tests.harness import RunningAgent, agent_settings, app_spec, engines, wait_for

DATABASES = (
    "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE NOT datistemplate"
)
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- pure plans ---------------------------------------------------------------------------


def spec_of(**kw: Any) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": "web", "image": "busybox", **kw})


def test_backup_plan_has_spec_database_volumes_then_manifest() -> None:
    spec = spec_of(
        database={"db": "shop"},
        volumes=[{"source": "up", "target": "/up"}, {"source": "cache", "target": "/c"}],
    )
    assert plan_backup(spec) == [
        Step("spec", "spec"),
        Step("database", "shop"),
        Step("volume", "up"),
        Step("volume", "cache"),
        Step("manifest", "manifest"),
    ]
    assert plan_backup(spec_of()) == [Step("spec", "spec"), Step("manifest", "manifest")]


DB = PartRef("database", "shop")
VOL = PartRef("volume", "up-r0a1b2c", "/up")


def test_restore_plan_stages_and_checks_before_it_swaps_then_cleans_up() -> None:
    assert plan_restore([PartRef("spec", "spec"), DB, VOL], ["/up"], has_database=True) == [
        Step("restore_database", "shop"),
        Step("check_counts", "shop"),
        Step("restore_volume", "/up"),
        Step("swap_database", "shop"),
        Step("recreate", "service"),
        Step("drop_old_database", "shop"),
        Step("remove_old_volume", "/up"),
    ]


def test_restore_plan_of_a_database_only_restarts_and_can_keep_the_old_data() -> None:
    assert plan_restore([DB], [], has_database=True, keep_old=True) == [
        Step("restore_database", "shop"),
        Step("check_counts", "shop"),
        Step("swap_database", "shop"),
        Step("restart", "service"),
    ]


def test_restore_plan_is_empty_when_nothing_matches_the_service() -> None:
    assert plan_restore([PartRef("spec", "spec")], ["/up"], has_database=True) == []
    assert plan_restore([DB, VOL], ["/elsewhere"], has_database=False) == []


def at(day: int, hour: int = 3) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


NOW = at(28, 12)  # a Saturday


def daily(first: int, last: int) -> list[BackupRef]:
    return [BackupRef(f"d{d}", at(d)) for d in range(first, last + 1)]


def test_prune_keeps_last_daily_and_weekly() -> None:
    backups_ = [*daily(1, 28), BackupRef("d28b", at(28, 9))]
    doomed = plan_prune(backups_, NOW, last=2, daily=3, weekly=2)
    kept = {b.id for b in backups_} - set(doomed)
    # the last two, the newest of 28, 27 and 26, the newest of this ISO week and the one before
    assert kept == {"d28b", "d28", "d27", "d26", "d22"}
    assert doomed == [f"d{d}" for d in range(1, 26) if d != 22]


def test_prune_is_a_no_op_when_everything_is_kept() -> None:
    assert plan_prune(daily(25, 28), NOW, last=7, daily=7, weekly=4) == []
    assert plan_prune([], NOW, last=1, daily=1, weekly=1) == []


def test_prune_never_removes_the_only_good_backup() -> None:
    old = BackupRef("old", at(1))
    assert plan_prune([old], NOW, last=0, daily=0, weekly=0) == []
    bad = [BackupRef("bad1", at(26), good=False), BackupRef("bad2", at(27), good=False)]
    assert plan_prune([old, *bad], NOW, last=0, daily=1, weekly=0) == ["bad1", "bad2"]
    assert plan_prune(bad, NOW, last=0, daily=0, weekly=0) == []


def test_a_scheduled_backup_is_due_after_the_interval_and_retries_later() -> None:
    made = at(27, 13)
    assert not is_due(NOW, None, None, made, interval_h=24, retry_h=1)
    assert is_due(NOW + timedelta(hours=1), None, None, made, interval_h=24, retry_h=1)
    failed = NOW + timedelta(minutes=30)
    assert not is_due(failed + timedelta(minutes=59), None, failed, made, 24, 1)
    assert is_due(failed + timedelta(hours=1), None, failed, made, 24, 1)
    assert not is_due(NOW, at(28, 1), at(28, 1), made, interval_h=24, retry_h=1)
    assert not is_due(NOW, None, None, at(1), interval_h=0, retry_h=1)


def row(backup_id: str, day: int, status: str = "succeeded", **kw: Any) -> dict[str, Any]:
    return {"id": backup_id, "created_at": at(day), "status": status, **kw}


def test_the_due_rule_counts_from_the_newest_good_backup_and_the_newest_attempt() -> None:
    rows = [row("f", 28, "failed"), row("p", 27, "pruned"), row("s", 26)]
    assert last_times(rows) == (at(27), at(28))
    assert last_times([row("f", 28, "failed"), row("i", 27, "interrupted")]) == (None, at(28))
    assert last_times([]) == (None, None)


def test_retention_treats_a_backup_that_failed_verification_as_not_good() -> None:
    rows = [row("b", 28, verification={"ok": False}), row("a", 27, verification={"ok": True})]
    assert backup_refs(rows) == [BackupRef("b", at(28), False), BackupRef("a", at(27), True)]
    assert plan_prune(backup_refs(rows), NOW, last=1, daily=0, weekly=0) == ["b"]


# --- fixtures over the real engines -------------------------------------------------------


def start_agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    data_dir: Path,
    **overrides: Any,
) -> RunningAgent:
    name = "b_" + uuid.uuid4().hex[:12]
    admin_url = postgres.url().replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    image = engines.build_postgres_image(docker_client)
    settings = agent_settings(
        data_dir, database_url=postgres.url(name), postgres_image=image, **overrides
    )
    return RunningAgent(settings).start()


def remove_everything(agent: RunningAgent, client: docker.DockerClient) -> None:
    """The services' containers, their databases, helpers, volumes and networks."""
    names = [s.name for s in agent.runtime.specs.list()]
    agent.remove_containers()
    for name in names:
        for label in (f"matrx.database_of={name}", f"matrx.helper_of={name}"):
            for c in client.containers.list(all=True, filters={"label": label}):
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True, v=True)
    for v in client.volumes.list():
        if any(v.name.startswith(f"{n}-") for n in names):
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)
    for n in client.networks.list(names=[f"{name}-db-net" for name in names]):
        with contextlib.suppress(docker.errors.APIError):
            n.remove()


def stop_agent(running: RunningAgent, client: docker.DockerClient) -> None:
    remove_everything(running, client)
    backups.stop_scheduler(running.runtime)
    running.stop()


@pytest.fixture(scope="module")
def agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """An agent with local blobs that gives services a dedicated Postgres."""
    running = start_agent(docker_client, postgres, tmp_path_factory.mktemp("agent"))
    yield running
    stop_agent(running, docker_client)


@pytest.fixture(scope="module")
def s3_env(moto: engines.Moto) -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        yield {**AWS_ENV, "AWS_ENDPOINT_URL": moto.endpoint}


@pytest.fixture(scope="module")
def bucket(moto: engines.Moto, s3_env: dict[str, str]) -> str:
    name = f"backups-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def s3_agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    moto: engines.Moto,
    bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    running = start_agent(
        docker_client,
        postgres,
        tmp_path_factory.mktemp("s3agent"),
        s3_bucket=bucket,
        s3_endpoint_url=moto.endpoint,
    )
    yield running
    stop_agent(running, docker_client)


def sql(client: docker.DockerClient, service: str, statement: str) -> str:
    """Run SQL in the service's database container, as its owner would."""
    [box] = client.containers.list(filters={"label": f"matrx.database_of={service}"})
    code, out = box.exec_run(["psql", "-U", "app", "-d", "app", "-AtXc", statement])
    assert code == 0 and isinstance(out, bytes), out
    return out.decode().strip()


def volumes_of(client: docker.DockerClient, service: str) -> set[str]:
    """The service's volumes (its own, its database's, and any a restore made)."""
    return {v.name for v in client.volumes.list() if v.name.startswith(f"{service}-")}


def app_container(client: docker.DockerClient, service: str) -> Any:
    [box] = client.containers.list(filters={"label": f"matrx.service={service}"})
    return box


def make_service(
    admin: AgentClient,
    client: docker.DockerClient,
    app_image: str,
    name: str,
    rows: int = 500,
    **overrides: Any,
) -> None:
    """A service with a database of two tables and a volume holding two files."""
    spec = app_spec(
        name,
        app_image,
        database={"db": "app", "user": "app"},
        volumes=[{"source": f"{name}-files", "target": "/srv/files"}],
        env={"API_SECRET": "canary-9f1"},
        **overrides,
    )
    admin.create_service(spec)
    sql(client, name, "CREATE TABLE items (id serial PRIMARY KEY, body text)")
    sql(
        client,
        name,
        f"INSERT INTO items (body) SELECT md5(g::text) FROM generate_series(1, {rows:d}) g",  # noqa: S608
    )
    sql(client, name, "CREATE TABLE tags (name text); INSERT INTO tags VALUES ('a'), ('b')")
    script = "echo original > /srv/files/a.txt; mkdir /srv/files/sub; echo b > /srv/files/sub/b"
    assert app_container(client, name).exec_run(["sh", "-c", script]).exit_code == 0


def backed_up(admin: AgentClient, name: str) -> dict[str, Any]:
    job = admin.request("POST", f"/v1/services/{name}/backups")
    done = admin.wait_job(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    return admin.request("GET", f"/v1/backups/{job['backup_id']}")


def damage(agent: RunningAgent, key: str) -> None:
    """Flip bytes in the middle of a stored object (the local blob folder)."""
    path = agent.settings.data_dir / "blobs" / key
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    path.write_bytes(bytes(data))


def part(backup: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(p for p in backup["parts"] if p["kind"] == kind)


# --- service backups ----------------------------------------------------------------------


def test_backup_streams_database_volume_and_encrypted_spec_with_checksums(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name)
    job = admin.request("POST", f"/v1/services/{svc_name}/backups")
    assert job["kind"] == "backup" and job["status"] == "queued"
    events = list(admin.job_events(job["id"]))
    assert events[-1]["status"] == "succeeded"
    steps = [e["step"] for e in events if e["kind"] == "step"]
    assert steps[0] == "spec spec" and "database app" in steps and "manifest" in steps
    backup = admin.request("GET", f"/v1/backups/{job['backup_id']}")
    assert backup["status"] == "succeeded" and backup["actor"] == "bootstrap-admin"
    assert backup["trigger"] == "manual" and backup["seconds"] > 0 and backup["finished_at"]
    assert [p["kind"] for p in backup["parts"]] == ["spec", "database", "volume"]
    assert backup["size"] == sum(p["size"] for p in backup["parts"])
    blobs = agent.runtime.blobs
    for p in backup["parts"]:
        data = blobs.open(p["key"]).read()
        assert hashlib.sha256(data).hexdigest() == p["sha256"] and len(data) == p["size"]
        name = p["key"].rsplit("/", 1)[1]
        assert blobs.open(p["key"] + ".sha256").read().decode() == f"{p['sha256']}  {name}\n"
    manifest = blobs.open(backup["manifest_key"]).read()
    assert hashlib.sha256(manifest).hexdigest() == backup["sha256"]
    assert part(backup, "database")["detail"]["tables"] == {"public.items": 500, "public.tags": 2}
    assert blobs.open(part(backup, "database")["key"]).read(5) == b"PGDMP"
    spec_doc = json.loads(blobs.open(part(backup, "spec")["key"]).read())
    assert "API_SECRET" in spec_doc["spec"]["env"] and "canary-9f1" not in json.dumps(spec_doc)
    assert agent.runtime.box.decrypt(spec_doc["spec"]["env"]["API_SECRET"]) == "canary-9f1"
    with tarfile.open(fileobj=blobs.open(part(backup, "volume")["key"]), mode="r|gz") as tar:
        names = sorted(m.name for m in tar)
    assert names == ["files", "files/a.txt", "files/sub", "files/sub/b"]
    assert [b["id"] for b in admin.request("GET", f"/v1/services/{svc_name}/backups")] == [
        backup["id"]
    ]


def test_restore_brings_back_database_and_volume_through_the_health_gate(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name)
    backup = backed_up(admin, svc_name)
    sql(docker_client, svc_name, "DELETE FROM items WHERE id > 10; DROP TABLE tags")
    old = app_container(docker_client, svc_name)
    old.exec_run(["sh", "-c", "echo changed > /srv/files/a.txt && rm -r /srv/files/sub"])
    job = admin.request("POST", f"/v1/backups/{backup['id']}/restore")
    done = admin.wait_job(job["id"], timeout=180)
    assert done["status"] == "succeeded", done
    assert [s["action"] for s in done["result"]["steps"]] == [
        "restore_database",
        "check_counts",
        "restore_volume",
        "swap_database",
        "recreate",
        "drop_old_database",
        "remove_old_volume",
    ]
    assert sql(docker_client, svc_name, "SELECT count(*) FROM items") == "500"
    assert sql(docker_client, svc_name, "SELECT string_agg(name, ',') FROM tags") == "a,b"
    databases_now = sql(docker_client, svc_name, DATABASES)
    assert databases_now == "app,postgres"
    new = app_container(docker_client, svc_name)
    assert new.id != old.id and new.attrs["State"]["Health"]["Status"] == "healthy"
    out = new.exec_run(["sh", "-c", "cat /srv/files/a.txt /srv/files/sub/b"]).output
    assert out == b"original\nb\n"
    [volume] = admin.service(svc_name)["spec"]["volumes"]
    assert volume["source"] == done["result"]["volumes"]["/srv/files"] != f"{svc_name}-files"
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"{svc_name}-files")


def test_a_restore_from_a_corrupt_object_fails_and_changes_nothing(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name)
    backup = backed_up(admin, svc_name)
    sql(docker_client, svc_name, "DELETE FROM items WHERE id > 10")
    before = app_container(docker_client, svc_name)
    before.exec_run(["sh", "-c", "echo changed > /srv/files/a.txt"])
    volumes_before = volumes_of(docker_client, svc_name)
    assert volumes_before == {f"{svc_name}-files", f"{svc_name}-db-data"}
    for kind in ("volume", "database"):
        damage(agent, part(backup, kind)["key"])
        job = admin.request("POST", f"/v1/backups/{backup['id']}/restore")
        done = admin.wait_job(job["id"], timeout=180)
        assert done["status"] == "failed"
        assert done["error"]["error"] == "backup_corrupt", done["error"]
        assert part(backup, kind)["key"] in done["error"]["message"]
        after = app_container(docker_client, svc_name)
        assert after.id == before.id and after.status == "running"
        assert sql(docker_client, svc_name, "SELECT count(*) FROM items") == "10"
        assert after.exec_run(["cat", "/srv/files/a.txt"]).output == b"changed\n"
        assert volumes_of(docker_client, svc_name) == volumes_before
        databases_now = sql(docker_client, svc_name, DATABASES)
        assert databases_now == "app,postgres"
    assert admin.service(svc_name)["spec"]["volumes"][0]["source"] == f"{svc_name}-files"


def test_a_restore_whose_service_misses_the_health_gate_puts_everything_back(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    # healthy unless /srv/files/poison exists: the backup will hold a poisoned volume
    check = {
        "command": ["sh", "-c", "test ! -f /srv/files/poison"],
        "interval_s": 1,
        "timeout_s": 1,
        "retries": 1,
    }
    make_service(admin, docker_client, app_image, svc_name, health=check)
    before = app_container(docker_client, svc_name)
    before.exec_run(["touch", "/srv/files/poison"])
    backup = backed_up(admin, svc_name)
    before.exec_run(["rm", "/srv/files/poison"])
    sql(docker_client, svc_name, "DELETE FROM items WHERE id > 10")
    volumes_before = volumes_of(docker_client, svc_name)
    assert volumes_before == {f"{svc_name}-files", f"{svc_name}-db-data"}
    job = admin.request("POST", f"/v1/backups/{backup['id']}/restore", params={"timeout": 4})
    done = admin.wait_job(job["id"], timeout=180)
    assert done["status"] == "failed" and done["error"]["error"] == "unhealthy", done["error"]
    after = app_container(docker_client, svc_name)
    assert after.id == before.id and after.status == "running"
    assert sql(docker_client, svc_name, "SELECT count(*) FROM items") == "10"
    assert sql(docker_client, svc_name, DATABASES) == "app,postgres"
    assert volumes_of(docker_client, svc_name) == volumes_before
    assert admin.service(svc_name)["spec"]["volumes"][0]["source"] == f"{svc_name}-files"
    assert after.exec_run(["ls", "/srv/files"]).output.split() == [b"a.txt", b"sub"]
    events = [e.get("line", "") for e in admin.job_events(job["id"]) if e["kind"] == "log"]
    assert any("undo: swap the database back" in line for line in events)


def test_verify_restores_into_a_scratch_postgres_and_records_the_result(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name, rows=1234)
    backup = backed_up(admin, svc_name)
    done = admin.wait_job(admin.request("POST", f"/v1/backups/{backup['id']}/verify")["id"], 180)
    assert done["status"] == "succeeded", done
    row = admin.request("GET", f"/v1/backups/{backup['id']}")
    assert row["verification"]["ok"] is True and row["verified_at"]
    db_check = next(c for c in row["verification"]["checks"] if c["kind"] == "database")
    assert db_check == {**db_check, "ok": True, "tables": 2, "rows": 1236}
    vol_check = next(c for c in row["verification"]["checks"] if c["kind"] == "volume")
    assert vol_check["files"] == 2 and vol_check["ok"] is True
    assert not docker_client.containers.list(all=True, filters={"label": "matrx.helper=verify"})
    damage(agent, part(backup, "database")["key"])
    failed = admin.wait_job(admin.request("POST", f"/v1/backups/{backup['id']}/verify")["id"], 180)
    assert failed["status"] == "failed" and failed["error"]["error"] == "verify_failed"
    row = admin.request("GET", f"/v1/backups/{backup['id']}")
    assert row["verification"]["ok"] is False and row["status"] == "succeeded"
    db_check = next(c for c in row["verification"]["checks"] if c["kind"] == "database")
    assert db_check["ok"] is False and "corrupt" in db_check["error"]


def test_a_backup_that_fails_is_recorded_failed_and_leaves_no_objects(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name)
    [box] = docker_client.containers.list(filters={"label": f"matrx.database_of={svc_name}"})
    box.stop(timeout=5)
    try:
        job = admin.request("POST", f"/v1/services/{svc_name}/backups")
        done = admin.wait_job(job["id"], 120)
    finally:
        box.start()
    assert done["status"] == "failed" and done["error"]["error"] == "database_unavailable"
    row = admin.request("GET", f"/v1/backups/{job['backup_id']}")
    assert row["status"] == "failed" and row["error"]["message"] == done["error"]["message"]
    assert row["sha256"] is None and row["manifest_key"] is None
    assert agent.runtime.blobs.list(row["prefix"]) == []
    with pytest.raises(AgentError) as refused:
        admin.request("POST", f"/v1/backups/{row['id']}/restore")
    assert refused.value.status == 409 and refused.value.code == "backup_not_usable"


def test_restoring_a_busy_service_answers_409_and_a_spec_only_backup_restores_nothing(
    agent: RunningAgent, admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    backup = backed_up(admin, svc_name)
    agent.runtime.locks.acquire(svc_name, "someone", "deploy")
    try:
        with pytest.raises(AgentError) as busy:
            admin.request("POST", f"/v1/backups/{backup['id']}/restore")
    finally:
        agent.runtime.locks.release(svc_name)
    assert busy.value.status == 409 and "someone" in busy.value.message
    nothing = admin.wait_job(admin.request("POST", f"/v1/backups/{backup['id']}/restore")["id"])
    assert nothing["status"] == "succeeded" and nothing["result"]["steps"] == []


# --- system backups, schedule, retention --------------------------------------------------


def test_system_backup_dumps_every_table_and_the_traefik_files(
    agent: RunningAgent, admin: AgentClient, app_image: str, svc_name: str
) -> None:
    route = {"host": f"{svc_name}.example.com", "port": 8080}
    admin.create_service(app_spec(svc_name, app_image, routes=[route]))
    operator = admin.create_token("op-" + uuid.uuid4().hex[:6], "operate")["token"]
    with agent.client(operator) as op, pytest.raises(AgentError) as denied:
        op.request("POST", "/v1/system/backups")
    assert denied.value.status == 403
    job = admin.request("POST", "/v1/system/backups")
    done = admin.wait_job(job["id"], 120)
    assert done["status"] == "succeeded", done
    backup = admin.request("GET", f"/v1/backups/{job['backup_id']}")
    assert backup["kind"] == "system" and backup["service"] is None
    tables = {p["name"]: p for p in backup["parts"] if p["kind"] == "table"}
    assert {"services", "tokens", "audit_events", "backups", "jobs"} <= set(tables)
    blobs = agent.runtime.blobs
    lines = gzip.decompress(blobs.open(tables["services"]["key"]).read()).splitlines()
    rows = [json.loads(line) for line in lines]
    assert svc_name in {r["name"] for r in rows}
    assert len(rows) == tables["services"]["detail"]["rows"]
    traefik = part(backup, "traefik")
    assert f"{svc_name}.yml" in traefik["detail"]["files"]
    with tarfile.open(fileobj=blobs.open(traefik["key"]), mode="r|gz") as tar:
        assert f"{svc_name}.yml" in [m.name for m in tar]
    assert admin.request("GET", "/v1/system/backups")[0]["id"] == backup["id"]


def test_the_schedule_backs_up_due_services_and_prunes_beyond_retention(
    agent: RunningAgent,
    admin: AgentClient,
    app_image: str,
    svc_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    rt = agent.runtime
    soon = backups.run_schedule(rt, datetime.now(UTC) + timedelta(hours=1))
    assert soon["started"] == []
    later = datetime.now(UTC) + timedelta(hours=25)
    ran = backups.run_schedule(rt, later)
    mine = [b for b in admin.request("GET", f"/v1/services/{svc_name}/backups")]
    assert [b["id"] for b in mine] == [i for i in ran["started"] if i in {b["id"] for b in mine}]
    [scheduled] = mine
    job = admin.wait_job(scheduled["job_id"], 60)
    assert job["status"] == "succeeded" and job["actor"] == "scheduler"
    scheduled = admin.request("GET", f"/v1/backups/{scheduled['id']}")
    assert scheduled["trigger"] == "scheduled" and scheduled["status"] == "succeeded"
    newer = [backed_up(admin, svc_name) for _ in range(3)]
    monkeypatch.setattr(rt.settings, "backup_keep_last", 2)
    monkeypatch.setattr(rt.settings, "backup_keep_daily", 0)
    monkeypatch.setattr(rt.settings, "backup_keep_weekly", 0)
    pruned = backups.run_schedule(rt)["pruned"].get(svc_name)  # now: nothing is due
    assert pruned == [scheduled["id"], newer[0]["id"]]
    rows = admin.request("GET", f"/v1/services/{svc_name}/backups")
    listed = {b["id"]: b["status"] for b in rows}
    assert listed == {
        scheduled["id"]: "pruned",
        newer[0]["id"]: "pruned",
        newer[1]["id"]: "succeeded",
        newer[2]["id"]: "succeeded",
    }
    assert rt.blobs.list(scheduled["prefix"]) == [] and rt.blobs.list(newer[2]["prefix"])
    audit = admin.audit(actor="scheduler", target=svc_name)
    assert {e["action"] for e in audit["events"]} >= {"backup.scheduled", "backup.prune"}


# --- S3: usable without matrx-ship, and failures with their reason ------------------------


def test_a_backup_in_s3_restores_with_the_two_standard_commands(
    s3_agent: RunningAgent,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
    bucket: str,
    s3_env: dict[str, str],
    pg_url: str,
    tmp_path: Path,
) -> None:
    with s3_agent.client() as admin:
        make_service(admin, docker_client, app_image, svc_name, rows=777)
        backup = backed_up(admin, svc_name)
    dump = part(backup, "database")
    key = f"testhost/{dump['key']}"
    env = {**os.environ, **s3_env}
    aws = str(Path(sys.executable).parent / "aws")
    url = pg_url.replace("+psycopg", "")
    subprocess.run(
        [aws, "s3", "cp", f"s3://{bucket}/{key}", "dump.pgc"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    assert hashlib.sha256((tmp_path / "dump.pgc").read_bytes()).hexdigest() == dump["sha256"]
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-acl", "-d", url, "dump.pgc"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (777,)
        assert conn.execute("SELECT name FROM tags ORDER BY 1").fetchall() == [("a",), ("b",)]
    head = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"]).head_object(
        Bucket=bucket, Key=key
    )
    assert head["ServerSideEncryption"] == "AES256"


def test_a_missing_bucket_fails_the_backup_with_the_s3_reason(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    moto: engines.Moto,
    s3_env: dict[str, str],
    app_image: str,
    svc_name: str,
    tmp_path: Path,
) -> None:
    running = start_agent(
        docker_client,
        postgres,
        tmp_path,
        s3_bucket="no-such-bucket-here",
        s3_endpoint_url=moto.endpoint,
    )
    try:
        with running.client() as admin:
            admin.create_service(app_spec(svc_name, app_image))
            job = admin.request("POST", f"/v1/services/{svc_name}/backups")
            done = admin.wait_job(job["id"], 60)
            row = admin.request("GET", f"/v1/backups/{job['backup_id']}")
            listed = admin.request("GET", f"/v1/services/{svc_name}/backups")
    finally:
        stop_agent(running, docker_client)
    assert done["status"] == "failed" and done["error"]["error"] == "s3_error"
    assert "NoSuchBucket" in done["error"]["message"]
    assert row["status"] == "failed" and "NoSuchBucket" in row["error"]["message"]
    assert [b["status"] for b in listed] == ["failed"]


def test_a_backup_of_an_emptied_database_is_listed_as_not_trusted(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    make_service(admin, docker_client, app_image, svc_name, rows=50)
    good = backed_up(admin, svc_name)
    sql(docker_client, svc_name, "DELETE FROM items")
    empty = backed_up(admin, svc_name)
    found = admin.request("GET", f"/v1/services/{svc_name}/backups")
    listed = {b["id"]: b["suspect"] for b in found}
    assert listed[good["id"]] is None
    assert listed[empty["id"]] == f"its database holds 2 rows, fewer than the 52 of {good['id']}"


def test_the_schedule_starts_a_system_backup_when_due_and_not_while_a_fresh_one_exists(
    agent: RunningAgent, admin: AgentClient
) -> None:
    rt = agent.runtime
    wait_for(
        lambda: not backups.catalog(rt).find(kind="system", status="running"),
        120,
        "no system backup running",
    )
    soon = backups.run_schedule(rt, datetime.now(UTC) + timedelta(hours=1))["system"]
    assert soon["started"] is None and soon["busy"] is False
    due = backups.run_schedule(rt, datetime.now(UTC) + timedelta(hours=25))["system"]
    assert due["started"] is not None
    started = admin.request("GET", f"/v1/backups/{due['started']}")
    job = admin.wait_job(started["job_id"], 120)
    assert job["status"] == "succeeded" and job["actor"] == "scheduler" and job["service"] is None
    done = admin.request("GET", f"/v1/backups/{due['started']}")
    assert done["kind"] == "system" and done["trigger"] == "scheduled"
    assert done["status"] == "succeeded" and {p["kind"] for p in done["parts"]} >= {"table"}
    fresh = backups.run_schedule(rt)["system"]  # now: the new one is minutes old
    assert fresh["started"] is None and fresh["busy"] is False
    audit = admin.audit(actor="scheduler", target="system", action="backup.scheduled")
    assert [e["detail"]["backup"] for e in audit["events"]].count(due["started"]) == 1


def test_system_backups_are_pruned_with_the_service_retention(
    agent: RunningAgent, admin: AgentClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    for _ in range(3):
        wait_for(
            lambda: not backups.catalog(agent.runtime).find(kind="system", status="running"),
            120,
            "no system backup running",
        )
        job = admin.request("POST", "/v1/system/backups")
        assert admin.wait_job(job["id"], 120)["status"] == "succeeded"
        made.append(job["backup_id"])
    monkeypatch.setattr(agent.runtime.settings, "backup_keep_last", 1)
    monkeypatch.setattr(agent.runtime.settings, "backup_keep_daily", 0)
    monkeypatch.setattr(agent.runtime.settings, "backup_keep_weekly", 0)
    pruned = backups.run_schedule(agent.runtime)["system"]["pruned"]
    assert made[:2] == [b for b in pruned if b in made]
    listed = {b["id"]: b["status"] for b in admin.request("GET", "/v1/system/backups")}
    assert [listed[b] for b in made] == ["pruned", "pruned", "succeeded"]
    gone = admin.request("GET", f"/v1/backups/{made[0]}")
    assert agent.runtime.blobs.list(gone["prefix"]) == []
    assert admin.audit(actor="scheduler", target="system", action="backup.prune")["events"]
