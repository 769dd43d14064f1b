"""The backup check's work: each service's newest backup object, its age and its checksum.

    python -m lambdas.backup_check.check      # one check; its report as JSON

Until the backup catalog (issue 4) exists, the blob store is the truth: every folder
`<host>/backups/<service>/` is a service with backups, plus the services named in
`MATRX_BACKUP_SERVICES`. The newest object of each is checked: older than the RPO is
stale; its SHA-256 (object metadata `sha256`, or a `<key>.sha256` sidecar) must match
the object's bytes. For each problem the agent is asked for a new backup
(POST /v1/services/{name}/backups); when it cannot, that is said in the alert, which is
sent anyway, and `BackupStale` is 1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.backup_check.settings import BackupCheckSettings, get_settings
from matrx_ship.client import AgentClient, AgentError
from matrx_ship.probes import Alert, publish, reach_agent

logger = Logger(service="backup_check", child=True)

SIDECAR = ".sha256"
CHUNK = 8 * 1024 * 1024

Verdict = Literal["ok", "stale", "missing", "corrupt", "unverified"]


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...


@dataclass
class Finding:
    """One service's newest backup and what is wrong with it, if anything."""

    service: str
    verdict: Verdict
    key: str | None = None
    age_hours: float | None = None
    sha256: str | None = None
    problem: str | None = None
    trigger: str | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    alert: dict[str, Any] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return any(f.verdict != "ok" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"stale": self.stale, "findings": [asdict(f) for f in self.findings], **self.alert}


def run_check(
    settings: BackupCheckSettings,
    *,
    s3: Any,
    sns: Any,
    metrics: MetricsSink,
    now: datetime | None = None,
) -> Report:
    """Check every service, ask the agent for the missing backups, alert, add BackupStale."""
    now = now or datetime.now(UTC)
    objects = backups_by_service(s3, settings.s3_bucket, settings.prefix)
    services = sorted(set(objects) | settings.expected)
    report = Report(
        [check_service(s3, settings, name, objects.get(name, []), now) for name in services]
    )
    bad = [f for f in report.findings if f.verdict != "ok"]
    if bad:
        ask_for_backups(settings, bad)
        report.alert = alert(settings, sns, bad)
    metrics.add_metric(name="BackupStale", unit=MetricUnit.Count, value=1 if bad else 0)
    logger.info("backup check", extra={"report": report.as_dict()})
    return report


def backups_by_service(s3: Any, bucket: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every object under `prefix`, grouped by the service folder it is in."""
    found: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            service, _, rest = obj["Key"][len(prefix) :].partition("/")
            if service and rest:
                found.setdefault(service, []).append(obj)
    return found


def check_service(
    s3: Any, s: BackupCheckSettings, service: str, objects: list[dict[str, Any]], now: datetime
) -> Finding:
    """The newest backup object's age against the RPO, then its checksum."""
    keys = {o["Key"] for o in objects}
    backups = [o for o in objects if not o["Key"].endswith(SIDECAR)]
    if not backups:
        return Finding(service, "missing", problem=f"no backup under {s.prefix}{service}/")
    newest = max(backups, key=lambda o: o["LastModified"])
    key = newest["Key"]
    age = (now - newest["LastModified"]).total_seconds() / 3600
    finding = Finding(service, "ok", key=key, age_hours=round(age, 2))
    if age > s.rpo_hours:
        finding.verdict = "stale"
        finding.problem = f"the newest backup is {age:.1f} h old (RPO {s.rpo_hours:g} h)"
        return finding
    want = expected_sha256(s3, s.s3_bucket, key, keys)
    if want is None:
        finding.verdict, finding.problem = "unverified", "no sha256 metadata and no sidecar"
        return finding
    got = object_sha256(s3, s.s3_bucket, key)
    finding.sha256 = got
    if got != want:
        finding.verdict = "corrupt"
        finding.problem = f"sha256 {got[:12]}… does not match the recorded {want[:12]}…"
    return finding


def expected_sha256(s3: Any, bucket: str, key: str, keys: set[str]) -> str | None:
    """The checksum recorded with the backup: metadata `sha256`, else the sidecar's first word."""
    meta = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    if meta.get("sha256"):
        return str(meta["sha256"]).strip().lower()
    if key + SIDECAR in keys:
        text = s3.get_object(Bucket=bucket, Key=key + SIDECAR)["Body"].read().decode()
        words = text.split()
        return words[0].lower() if words else None
    return None


def object_sha256(s3: Any, bucket: str, key: str) -> str:
    """SHA-256 of the object's bytes, streamed."""
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def ask_for_backups(s: BackupCheckSettings, bad: list[Finding]) -> None:
    """Ask the agent for a new backup of each service with a problem; note what it said."""
    reach = reach_agent(
        public_url=s.agent_url,
        breakglass_url=s.breakglass_url,
        pin=s.breakglass_cert_sha256,
        token=s.agent_token(),
        timeout=s.request_timeout_s,
    )
    try:
        for finding in bad:
            finding.trigger = trigger(reach.client, finding.service, reach.verdict)
    finally:
        reach.close()


def trigger(client: AgentClient | None, service: str, verdict: str) -> str:
    if client is None:
        return f"could not trigger: the agent does not answer ({verdict})"
    try:
        job = client.request("POST", f"/v1/services/{service}/backups")
    except AgentError as exc:
        return f"could not trigger: {exc.code} (HTTP {exc.status}): {exc.message}"[:300]
    return f"backup job {job.get('id', '?')} started"


def alert(s: BackupCheckSettings, sns: Any, bad: list[Finding]) -> dict[str, Any]:
    lines = [f"Backups of {s.host} that need attention (RPO {s.rpo_hours:g} h):"]
    lines += [f"- {f.service}: {f.verdict}: {f.problem}; {f.trigger}" for f in bad]
    names = ", ".join(f.service for f in bad)
    message = Alert(
        subject=f"[matrx {s.host}] Backups {bad[0].verdict}: {names}",
        lines=lines,
        attributes={"target": "backups", "step": "alert"},
    )
    try:
        return {"message_id": publish(sns, s.alarm_topic_arn, message)}
    except Exception as exc:
        logger.exception("could not publish the backup alert")
        return {"alert_error": f"{type(exc).__name__}: {exc}"[:300]}


def main() -> None:
    import boto3
    from aws_lambda_powertools import Metrics

    Logger(service="backup_check")  # the parent of this module's logger
    metrics = Metrics(service="backup_check")
    report = run_check(
        get_settings(), s3=boto3.client("s3"), sns=boto3.client("sns"), metrics=metrics
    )
    metrics.flush_metrics()
    print(json.dumps(report.as_dict(), default=str))


if __name__ == "__main__":
    main()
