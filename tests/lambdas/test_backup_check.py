"""The backup check over moto's S3, with a real agent to ask for new backups."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.backup_check import check, handler
from lambdas.backup_check.settings import BackupCheckSettings, get_settings
from tests.conftest import RunningAgent
from tests.lambdas.conftest import Aws, FakeLambdaContext, Inbox, scheduled_event


class Recorded:
    """Collects metrics the way Powertools is called, to read them back."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        self.values.setdefault(name, []).append(value)


@pytest.fixture
def bucket(aws: Aws) -> str:
    name = f"backups-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch,
    aws: Aws,
    inbox: Inbox,
    agent: RunningAgent,
    probe_token: str,
    bucket: str,
) -> Iterator[BackupCheckSettings]:
    env = {
        "MATRX_HOST": "testhost",
        "MATRX_S3_BUCKET": bucket,
        "MATRX_AGENT_URL": agent.url,
        "MATRX_AGENT_TOKEN_SECRET_ARN": aws.secret(probe_token),
        "MATRX_ALARM_TOPIC_ARN": inbox.topic_arn,
        "MATRX_BACKUP_RPO_HOURS": "26",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def put(aws: Aws, bucket: str, key: str, data: bytes, **metadata: str) -> None:
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(settings: BackupCheckSettings, aws: Aws, **kw: Any) -> tuple[check.Report, Recorded]:
    metrics = Recorded()
    s3, sns = aws.client("s3"), aws.client("sns")
    return check.run_check(settings, s3=s3, sns=sns, metrics=metrics, **kw), metrics


def test_fresh_backups_with_matching_checksums_are_not_stale(
    settings: BackupCheckSettings,
    aws: Aws,
    bucket: str,
    inbox: Inbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dump, archive = b"pg_dump output" * 1000, b"volume tar" * 500
    put(aws, bucket, "testhost/backups/ship-a/old.dump", b"older", sha256=sha(b"older"))
    put(aws, bucket, "testhost/backups/ship-a/new.dump", dump, sha256=sha(dump))
    put(aws, bucket, "testhost/backups/sandbox/vol.tar", archive)
    put(
        aws,
        bucket,
        "testhost/backups/sandbox/vol.tar.sha256",
        f"{sha(archive)}  vol.tar\n".encode(),
    )
    put(aws, bucket, "otherhost/backups/ship-x/x.dump", b"not ours")

    answer = handler.handler(scheduled_event(), FakeLambdaContext(budget_s=60))

    assert answer["stale"] is False
    assert [(f["service"], f["verdict"], f["sha256"]) for f in answer["findings"]] == [
        ("sandbox", "ok", sha(archive)),
        ("ship-a", "ok", sha(dump)),
    ]
    assert answer["findings"][1]["key"] == "testhost/backups/ship-a/new.dump"
    assert inbox.messages() == []
    [emf] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert (emf["service"], emf["BackupStale"]) == ("backup_check", [0.0])


def test_a_stale_backup_alarms_and_the_agent_is_asked_for_a_new_one(
    settings: BackupCheckSettings, aws: Aws, bucket: str, inbox: Inbox
) -> None:
    put(aws, bucket, "testhost/backups/ship-a/nightly.dump", b"x", sha256=sha(b"x"))
    later = datetime.now(UTC) + timedelta(hours=30)

    report, metrics = run(settings, aws, now=later)

    assert metrics.values == {"BackupStale": [1]}
    [finding] = report.findings
    assert finding.verdict == "stale" and "30.0 h old (RPO 26 h)" in (finding.problem or "")
    # The agent does not know 'ship-a': the attempt is recorded, the alarm still goes.
    assert finding.trigger is not None and finding.trigger.startswith("could not trigger: ")
    assert "(HTTP 404)" in finding.trigger
    [message] = inbox.messages()
    assert message["Subject"] == "[matrx testhost] Backups stale: ship-a"
    assert "ship-a: stale" in message["Message"] and "could not trigger" in message["Message"]


def test_a_backup_whose_bytes_do_not_match_its_checksum_is_corrupt(
    settings: BackupCheckSettings, aws: Aws, bucket: str, inbox: Inbox
) -> None:
    put(aws, bucket, "testhost/backups/ship-a/nightly.dump", b"flipped bit", sha256=sha(b"orig"))
    put(aws, bucket, "testhost/backups/ship-b/nightly.dump", b"no checksum at all")

    report, metrics = run(settings, aws)

    assert metrics.values == {"BackupStale": [1]}
    assert [(f.service, f.verdict) for f in report.findings] == [
        ("ship-a", "corrupt"),
        ("ship-b", "unverified"),
    ]
    assert inbox.subjects() == ["[matrx testhost] Backups corrupt: ship-a, ship-b"]


def test_a_service_that_must_have_backups_but_has_none_is_missing(
    settings: BackupCheckSettings,
    aws: Aws,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MATRX_BACKUP_SERVICES", "ship-a, manager")
    get_settings.cache_clear()

    report, metrics = run(get_settings(), aws)

    assert metrics.values == {"BackupStale": [1]}
    assert [(f.service, f.verdict) for f in report.findings] == [
        ("manager", "missing"),
        ("ship-a", "missing"),
    ]
    assert report.findings[0].problem == "no backup under testhost/backups/manager/"
    assert inbox.subjects() == ["[matrx testhost] Backups missing: manager, ship-a"]


def test_nothing_to_check_is_not_stale(settings: BackupCheckSettings, aws: Aws) -> None:
    report, metrics = run(settings, aws)
    assert report.findings == [] and metrics.values == {"BackupStale": [0]}
