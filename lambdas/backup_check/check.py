"""The backup check's work: from the backup catalog, each service's newest good backup,
its age and whether every part of it is in S3 as recorded.

    python -m lambdas.backup_check.check      # one check; its report as JSON

The catalog (the state store's `backups` table, read through pg8000) is the truth:

- every service with a row there (plus those named in `MATRX_BACKUP_SERVICES`) must have a
  good backup (`succeeded`, and not failed by its last verification) whose `finished_at`
  is younger than `MATRX_BACKUP_RPO_HOURS` (26 h): none is `missing`, too old is `stale`;
- every part of that backup (and its `manifest.json`) must be in S3 below the host's
  folder `<host>/` with the recorded size (`head_object`), else `missing` / `corrupt`;
- its sha256 must be the recorded one. Parts up to `MATRX_BACKUP_HASH_MAX_BYTES` (512 MiB)
  are read and hashed (one streamed pass, ~10 s per GB in a Lambda); larger parts are
  not read (the function has 5 minutes): their size must match and their `<key>.sha256`
  sidecar, written by the agent from the bytes it streamed, must name the recorded sha256.
  Such a part is reported with `checked: sidecar`; `POST /v1/backups/{id}/verify` reads
  everything.
- a system backup (`kind` system: the state store's tables and Traefik's files) must be
  younger than `MATRX_SYSTEM_BACKUP_RPO_HOURS` (26 h), its parts checked the same way.

For each service with a problem the agent is asked for a new backup
(POST /v1/services/{name}/backups); a system backup needs an admin token, so it is only
alarmed. When the agent cannot be asked that is said in the alert, which is sent anyway
(SNS), and `BackupStale` is 1.

A deleted service's backups stay in the catalog (on purpose, for restores): they are
checked until they are pruned, and its trigger answers 404.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from sqlalchemy import select

from lambdas.backup_check.settings import BackupCheckSettings, get_settings
from lambdas.common.alerts import Alert, publish
from lambdas.common.reach import reach_agent
from lambdas.common.statestore import open_store
from matrx_ship.client import AgentClient, AgentError
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog, BackupRow

logger = Logger(service="backup_check", child=True)

SIDECAR = ".sha256"
CHUNK = 8 * 1024 * 1024
SYSTEM = "system"  # the finding's name for the system backup

Verdict = Literal["ok", "stale", "missing", "corrupt", "unverified"]
WORST: tuple[Verdict, ...] = ("missing", "corrupt", "unverified")


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...


@dataclass
class Finding:
    """One service's (or the system's) newest good backup and what is wrong with it."""

    service: str
    verdict: Verdict
    kind: str = "service"
    backup_id: str | None = None
    prefix: str | None = None
    age_hours: float | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)
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


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    """One engine per state store URL for the life of a warm function."""
    return open_store(url)


def run_check(
    settings: BackupCheckSettings,
    *,
    s3: Any,
    sns: Any,
    metrics: MetricsSink,
    store: Store | None = None,
    now: datetime | None = None,
) -> Report:
    """Check every service's and the system's backup, ask for new ones, alert, BackupStale."""
    now = now or datetime.now(UTC)
    catalog = BackupCatalog(store or _store(settings.database_url()))
    good = newest_good(catalog)
    services = sorted((cataloged_services(catalog) | settings.expected) - {SYSTEM})
    findings = [
        check_backup(s3, settings, name, good.get(("service", name)), settings.rpo_hours, now)
        for name in services
    ]
    findings.append(
        check_backup(
            s3, settings, SYSTEM, good.get(("system", None)), settings.system_rpo_hours, now
        )
    )
    report = Report(findings)
    bad = [f for f in findings if f.verdict != "ok"]
    if bad:
        ask_for_backups(settings, [f for f in bad if f.kind == "service"])
        for f in bad:
            if f.kind == "system":
                f.trigger = "not triggered: a system backup needs an admin token "
                f.trigger += "(POST /v1/system/backups)"
        report.alert = alert(settings, sns, bad)
    metrics.add_metric(name="BackupStale", unit=MetricUnit.Count, value=1 if bad else 0)
    logger.info("backup check", extra={"report": report.as_dict()})
    return report


def cataloged_services(catalog: BackupCatalog) -> set[str]:
    """Every service the catalog has a backup row of, whatever its status."""
    stmt = select(BackupRow.service).where(BackupRow.kind == "service").distinct()
    with catalog.store.session() as s:
        return {name for name in s.scalars(stmt) if name}


def newest_good(catalog: BackupCatalog) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The newest good backup of each service and of the system, by (kind, service)."""
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in catalog.find(status="succeeded", limit=100_000):  # newest first
        if (row.get("verification") or {}).get("ok", True) is False:
            continue  # its last verification failed: not a good backup
        found.setdefault((row["kind"], row["service"]), row)
    return found


def check_backup(
    s3: Any,
    s: BackupCheckSettings,
    name: str,
    row: dict[str, Any] | None,
    rpo_hours: float,
    now: datetime,
) -> Finding:
    """The backup's age against the RPO, then each part against the bucket."""
    kind = SYSTEM if name == SYSTEM else "service"
    what = "system backup" if kind == SYSTEM else "backup"
    if row is None:
        return Finding(name, "missing", kind, problem=f"no good {what} in the catalog")
    done = row["finished_at"] or row["created_at"]
    age = (now - done).total_seconds() / 3600
    finding = Finding(name, "ok", kind, row["id"], row["prefix"], round(age, 2))
    if age > rpo_hours:
        finding.verdict = "stale"
        finding.problem = f"the newest good {what} is {age:.1f} h old (RPO {rpo_hours:g} h)"
        return finding
    parts = list(row["parts"])
    if row.get("manifest_key"):
        parts.append(
            {"name": "manifest", "key": row["manifest_key"], "size": None, "sha256": row["sha256"]}
        )
    finding.parts = [check_part(s3, s, part) for part in parts]
    for verdict in WORST:
        wrong = [p for p in finding.parts if p["verdict"] == verdict]
        if wrong:
            finding.verdict = verdict
            finding.problem = f"{what} {row['id']}: " + "; ".join(p["problem"] for p in wrong)
            break
    return finding


def check_part(s3: Any, s: BackupCheckSettings, part: dict[str, Any]) -> dict[str, Any]:
    """One part: in the bucket, the recorded size, the recorded sha256 (bytes or sidecar)."""
    key = s.host_prefix + part["key"]
    out: dict[str, Any] = {"name": part["name"], "key": key, "verdict": "ok", "checked": None}

    def wrong(verdict: Verdict, problem: str) -> dict[str, Any]:
        return {**out, "verdict": verdict, "problem": f"{part['name']} ({key}) {problem}"}

    try:
        size = int(s3.head_object(Bucket=s.s3_bucket, Key=key)["ContentLength"])
        if part.get("size") is not None and size != part["size"]:
            return wrong("corrupt", f"is {size} bytes, the catalog says {part['size']}")
        out["checked"] = "bytes" if size <= s.hash_max_bytes else "sidecar"
        if out["checked"] == "bytes":
            got = object_sha256(s3, s.s3_bucket, key)
        else:
            got = sidecar_sha256(s3, s.s3_bucket, key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey"):
            where = "its sidecar is" if out["checked"] == "sidecar" else "is"
            return wrong("missing", f"{where} not in the bucket")
        return wrong("unverified", f"could not be read: {code or exc}")
    if got != part["sha256"]:
        return wrong(
            "corrupt", f"has sha256 {got[:12]}…, the catalog says {str(part['sha256'])[:12]}…"
        )
    return out


def object_sha256(s3: Any, bucket: str, key: str) -> str:
    """SHA-256 of the object's bytes, streamed."""
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sidecar_sha256(s3: Any, bucket: str, key: str) -> str:
    """The first word of the part's `sha256sum -c` sidecar."""
    text = s3.get_object(Bucket=bucket, Key=key + SIDECAR)["Body"].read().decode()
    words = text.split()
    return words[0].lower() if words else ""


def ask_for_backups(s: BackupCheckSettings, bad: list[Finding]) -> None:
    """Ask the agent for a new backup of each service with a problem; note what it said."""
    if not bad:
        return
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
        job = client.backup(service)
    except AgentError as exc:
        return f"could not trigger: {exc.code} (HTTP {exc.status}): {exc.message}"[:300]
    return f"backup job {job.id} started (backup {job.backup_id or '?'})"


def alert(s: BackupCheckSettings, sns: Any, bad: list[Finding]) -> dict[str, Any]:
    lines = [f"Backups of {s.host} that need attention (RPO {s.rpo_hours:g} h):"]
    lines += [f"- {f.service}: {f.verdict}: {f.problem}; {f.trigger}" for f in bad]
    verdicts = {f.verdict for f in bad}
    state = bad[0].verdict if len(verdicts) == 1 else "need attention"
    message = Alert(
        subject=f"[matrx {s.host}] Backups {state}: {', '.join(f.service for f in bad)}",
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
