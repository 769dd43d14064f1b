"""The backup check against a real agent whose backups go to moto's S3: the catalog says
what should be there, the bucket what is; alerts land in an SNS-fed queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import docker
import psycopg
import pytest
from aws_lambda_powertools.metrics import MetricUnit
from sqlalchemy import delete, update

from lambdas.backup_check import check, handler
from lambdas.backup_check.settings import BackupCheckSettings, get_settings
from matrx_ship.client import AgentClient
from matrx_ship.store.backuptables import BackupCatalog, BackupRow
from onbox_agent.backups import stop_scheduler
from tests.harness import TEST_PREFIX, RunningAgent, agent_settings, app_spec, engines
from tests.lambdas.conftest import Aws, FakeLambdaContext, Inbox, scheduled_event

HOST = "testhost"  # the agent's MATRX_S3_PREFIX and the check's MATRX_HOST
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Recorded:
    """Collects metrics the way Powertools is called, to read them back."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        self.values.setdefault(name, []).append(value)


# --- a real agent that backs up into moto's S3 ---------------------------------------------


@pytest.fixture(scope="module")
def bucket(moto: engines.Moto) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        name = f"backups-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=name)
        yield name


@pytest.fixture(scope="module")
def agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    moto: engines.Moto,
    bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """Overrides the shared agent: its blobs are moto's S3 (prefix `testhost/`)."""
    name = "bc_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = agent_settings(
        tmp_path_factory.mktemp("bcagent"),
        database_url=postgres.url(name),
        s3_bucket=bucket,
        s3_endpoint_url=moto.endpoint,
        s3_prefix=HOST,
        backup_interval_hours=0,  # no scheduled backups behind the tests' backs
    )
    running = RunningAgent(settings).start()
    yield running
    running.remove_containers()
    stop_scheduler(running.runtime)
    running.stop()


@pytest.fixture(scope="module")
def service(agent: RunningAgent, app_image: str) -> str:
    """One running service (spec only: no database, no volume) the tests back up."""
    name = TEST_PREFIX + "bc" + uuid.uuid4().hex[:6]
    with agent.client() as admin:
        admin.create_service(app_spec(name, app_image))
    return name


@pytest.fixture
def catalog(agent: RunningAgent) -> BackupCatalog:
    """The agent's backup catalog, emptied for each test."""
    with agent.runtime.store.session() as s:
        s.execute(delete(BackupRow))
    return BackupCatalog(agent.runtime.store)


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch,
    aws: Aws,
    inbox: Inbox,
    agent: RunningAgent,
    probe_token: str,
    bucket: str,
    catalog: BackupCatalog,
) -> Iterator[BackupCheckSettings]:
    """The check's environment as cdk/stack.py sets it, secrets in moto's Secrets Manager."""
    assert agent.settings.database_url is not None
    env = {
        "MATRX_HOST": HOST,
        "MATRX_S3_BUCKET": bucket,
        "MATRX_AGENT_URL": agent.url,
        "MATRX_AGENT_TOKEN_SECRET_ARN": aws.secret(probe_token),
        "MATRX_DATABASE_URL_SECRET_ARN": aws.secret(agent.settings.database_url.get_secret_value()),
        "MATRX_ALARM_TOPIC_ARN": inbox.topic_arn,
        "MATRX_BACKUP_RPO_HOURS": "26",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def backed_up(admin: AgentClient, name: str | None) -> dict[str, Any]:
    """A backup made through the API (a service's, or the system's when `name` is None)."""
    path = f"/v1/services/{name}/backups" if name else "/v1/system/backups"
    job = admin.request("POST", path)
    done = admin.wait_job(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    return admin.request("GET", f"/v1/backups/{job['backup_id']}")


def aged(catalog: BackupCatalog, backup: dict[str, Any], hours: float) -> None:
    """Make a backup look `hours` old (the only way to get a stale one in a test)."""
    then = datetime.now(UTC) - timedelta(hours=hours)
    # a backup's creation time never changes through the catalog: set it in the table itself
    with catalog.store.session() as s:
        s.execute(
            update(BackupRow)
            .where(BackupRow.id == backup["id"])
            .values(created_at=then, finished_at=then)
        )


def backup_jobs(admin: AgentClient, name: str) -> list[dict[str, Any]]:
    return admin.jobs(service=name, kind="backup")


def part_key(backup: dict[str, Any], kind: str) -> str:
    """A part's key in the bucket (the catalog's keys are below the host folder)."""
    return f"{HOST}/" + next(p["key"] for p in backup["parts"] if p["kind"] == kind)


def run(settings: BackupCheckSettings, aws: Aws) -> tuple[check.Report, Recorded]:
    metrics = Recorded()
    s3, sns = aws.client("s3"), aws.client("sns")
    return check.run_check(settings, s3=s3, sns=sns, metrics=metrics), metrics


def verdicts(report: check.Report) -> list[tuple[str, str]]:
    return [(f.service, f.verdict) for f in report.findings]


# --- the tests ---------------------------------------------------------------------------


def test_a_fresh_good_backup_is_ok_and_nobody_is_alerted(
    settings: BackupCheckSettings,
    admin: AgentClient,
    service: str,
    inbox: Inbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup = backed_up(admin, service)
    system = backed_up(admin, None)
    jobs_before = len(backup_jobs(admin, service))

    answer = handler.handler(scheduled_event(), FakeLambdaContext(budget_s=60))

    assert answer["stale"] is False
    assert [(f["service"], f["verdict"], f["backup_id"]) for f in answer["findings"]] == [
        (service, "ok", backup["id"]),
        ("system", "ok", system["id"]),
    ]
    parts = answer["findings"][0]["parts"]
    assert [(p["name"], p["key"], p["checked"]) for p in parts] == [
        ("spec", part_key(backup, "spec"), "bytes"),
        ("manifest", f"{HOST}/{backup['manifest_key']}", "bytes"),
    ]
    assert all(p["verdict"] == "ok" for f in answer["findings"] for p in f["parts"])
    assert answer["findings"][0]["age_hours"] < 0.1
    assert inbox.messages() == []
    assert len(backup_jobs(admin, service)) == jobs_before  # nothing was triggered
    [emf] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert (emf["service"], emf["BackupStale"]) == ("backup_check", [0.0])


def test_a_stale_backup_alarms_and_the_agent_makes_a_new_one(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    catalog: BackupCatalog,
    service: str,
    inbox: Inbox,
) -> None:
    old = backed_up(admin, service)
    backed_up(admin, None)
    aged(catalog, old, 30)
    before = backup_jobs(admin, service)

    report, metrics = run(settings, aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [(service, "stale"), ("system", "ok")]
    finding = report.findings[0]
    assert finding.backup_id == old["id"]
    assert "is 30.0 h old (RPO 26 h)" in (finding.problem or "")
    new_job, *older = backup_jobs(admin, service)  # newest first: the agent was asked
    assert older == before and new_job["status"] in ("queued", "running", "succeeded")
    [newest, _] = admin.request("GET", f"/v1/services/{service}/backups")
    assert newest["job_id"] == new_job["id"] and newest["id"] != old["id"]
    assert finding.trigger == f"backup job {new_job['id']} started (backup {newest['id']})"
    [message] = inbox.messages()
    assert message["Subject"] == f"[matrx {HOST}] Backups stale: {service}"
    assert f"- {service}: stale: the newest good backup is 30.0 h old" in message["Message"]

    # The new backup lands: the next run is quiet again.
    assert admin.wait_job(new_job["id"], 120)["status"] == "succeeded"
    again, metrics = run(settings, aws)
    assert verdicts(again) == [(service, "ok"), ("system", "ok")]
    assert again.findings[0].backup_id == newest["id"]
    assert metrics.values == {"BackupStale": [0]} and inbox.messages() == [message]


def test_a_part_whose_bytes_were_changed_in_s3_is_corrupt(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    service: str,
    bucket: str,
    inbox: Inbox,
) -> None:
    backup = backed_up(admin, service)
    backed_up(admin, None)
    before = backup_jobs(admin, service)
    s3, key = aws.client("s3"), part_key(backup, "spec")
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=data.replace(b'"', b"'"))  # same size

    report, metrics = run(settings, aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [(service, "corrupt"), ("system", "ok")]
    problem = report.findings[0].problem or ""
    assert problem.startswith(f"backup {backup['id']}: spec ({key}) has sha256 ")
    assert f"the catalog says {backup['parts'][0]['sha256'][:12]}" in problem
    assert report.findings[0].trigger is not None
    assert report.findings[0].trigger.startswith("backup job ")
    assert inbox.subjects() == [f"[matrx {HOST}] Backups corrupt: {service}"]
    assert len(backup_jobs(admin, service)) == len(before) + 1  # a new backup was asked for
    admin.wait_job(backup_jobs(admin, service)[0]["id"], 120)


def test_a_large_part_is_checked_by_size_and_sidecar(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    service: str,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MATRX_BACKUP_HASH_MAX_BYTES", "0")  # every part is "large"
    get_settings.cache_clear()
    backup = backed_up(admin, service)
    backed_up(admin, None)
    s3, key = aws.client("s3"), part_key(backup, "spec")

    fine, _ = run(get_settings(), aws)
    assert verdicts(fine) == [(service, "ok"), ("system", "ok")]
    assert {p["checked"] for f in fine.findings for p in f.parts} == {"sidecar"}

    s3.put_object(Bucket=bucket, Key=key + ".sha256", Body=b"0" * 64 + b"  spec.json\n")
    report, metrics = run(get_settings(), aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [(service, "corrupt"), ("system", "ok")]
    assert f"spec ({key}) has sha256 000000000000…" in (report.findings[0].problem or "")
    admin.wait_job(backup_jobs(admin, service)[0]["id"], 120)


def test_a_deleted_part_is_missing(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    service: str,
    bucket: str,
    inbox: Inbox,
) -> None:
    backup = backed_up(admin, service)
    backed_up(admin, None)
    before = backup_jobs(admin, service)
    key = part_key(backup, "spec")
    aws.client("s3").delete_object(Bucket=bucket, Key=key)

    report, metrics = run(settings, aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [(service, "missing"), ("system", "ok")]
    assert report.findings[0].problem == f"backup {backup['id']}: spec ({key}) is not in the bucket"
    [message] = inbox.messages()
    assert message["Subject"] == f"[matrx {HOST}] Backups missing: {service}"
    assert f"{key}) is not in the bucket; backup job " in message["Message"]
    assert len(backup_jobs(admin, service)) == len(before) + 1  # a new backup was asked for
    admin.wait_job(backup_jobs(admin, service)[0]["id"], 120)


def test_no_recent_system_backup_is_alarmed(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    catalog: BackupCatalog,
    service: str,
    inbox: Inbox,
) -> None:
    backed_up(admin, service)

    report, metrics = run(settings, aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [(service, "ok"), ("system", "missing")]
    system = report.findings[1]
    assert system.problem == "no good system backup in the catalog"
    assert system.trigger == (
        "not triggered: a system backup needs an admin token (POST /v1/system/backups)"
    )
    assert inbox.subjects() == [f"[matrx {HOST}] Backups missing: system"]
    assert admin.request("GET", "/v1/system/backups") == []  # the check did not make one

    aged(catalog, backed_up(admin, None), 27)
    later, _ = run(settings, aws)
    assert verdicts(later) == [(service, "ok"), ("system", "stale")]
    assert "system backup is 27.0 h old (RPO 26 h)" in (later.findings[1].problem or "")


def test_a_service_that_must_have_backups_but_has_none_is_missing(
    settings: BackupCheckSettings,
    admin: AgentClient,
    aws: Aws,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backed_up(admin, None)
    monkeypatch.setenv("MATRX_BACKUP_SERVICES", "ghost")
    get_settings.cache_clear()

    report, metrics = run(get_settings(), aws)

    assert metrics.values == {"BackupStale": [1]}
    assert verdicts(report) == [("ghost", "missing"), ("system", "ok")]
    assert report.findings[0].problem == "no good backup in the catalog"
    # The agent does not know 'ghost': the attempt is recorded, the alarm still goes.
    assert "(HTTP 404)" in (report.findings[0].trigger or "")
    assert inbox.subjects() == [f"[matrx {HOST}] Backups missing: ghost"]
