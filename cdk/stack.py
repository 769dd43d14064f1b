"""The deploy tier: one stack composed of one construct per concern."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, Stack
from constructs import Construct

from cdk.agent_identity import AgentIdentity, prefix_statements, suppress_prefix_wildcard
from cdk.alerts import AlarmTopic
from cdk.backups import BackupStorage
from cdk.config import DeployTierConfig
from cdk.functions import ScheduledFunction, powertools_layer
from cdk.monitoring import BACKUP_CHECK, HEALTH_PROBE, NAMESPACE, Monitoring
from cdk.secrets import DeployTierSecrets

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_ROOT = REPO_ROOT / "lambdas"
SHARED_LIB = REPO_ROOT / "matrx_ship"

BACKUP_CHECK_TIMEOUT = Duration.minutes(5)
BACKUP_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectAttributes"]


class DeployTierStack(Stack):
    """Backups bucket, scheduled probes, alarms, secrets and the agent's identity.

    `lambdas_root` holds one folder per function (`health_probe/`, `backup_check/`), each
    with a `handler.py`; tests point it at folders of their own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployTierConfig,
        lambdas_root: Path = LAMBDAS_ROOT,
        shared_lib: Path = SHARED_LIB,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.storage = BackupStorage(self, "Storage")
        self.secrets = DeployTierSecrets(self, "Secrets")
        self.alerts = AlarmTopic(self, "Alerts", email=config.alarm_email)
        self.agent = AgentIdentity(self, "Agent", bucket=self.storage.bucket, host=config.host)
        layer = powertools_layer(self, version=config.powertools_layer_version)

        def scheduled(name: str, rate: Duration, timeout: Duration) -> ScheduledFunction:
            return ScheduledFunction(
                self,
                _pascal(name),
                function_dir=_function_dir(lambdas_root, name),
                shared_lib=shared_lib,
                rate=rate,
                timeout=timeout,
                environment=self._environment(name),
                layers=[layer],
            )

        probe_rate = Duration.minutes(config.probe_rate_minutes)
        backup_rate = Duration.minutes(config.backup_check_rate_minutes)
        self.health_probe = scheduled(HEALTH_PROBE, probe_rate, _probe_timeout(probe_rate))
        self.backup_check = scheduled(BACKUP_CHECK, backup_rate, BACKUP_CHECK_TIMEOUT)
        self._grant_functions()
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            health_probe=self.health_probe.function,
            backup_check=self.backup_check.function,
            topic=self.alerts.topic,
            probe_rate=probe_rate,
            backup_check_rate=backup_rate,
            name_prefix=f"matrx-{config.host}",
        )
        self._outputs()
        self._warn_about_missing_targets()

    def _environment(self, service: str) -> dict[str, str]:
        c = self.config
        return {
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "MATRX_DOMAIN": c.domain,
            "MATRX_HOST": c.host,
            "MATRX_AGENT_URL": c.agent_url,
            "MATRX_MANAGER_CONSOLE_URL": c.manager_console_url,
            "MATRX_BREAKGLASS_URL": c.breakglass_url,
            "MATRX_BREAKGLASS_CERT_SHA256": c.breakglass_cert_sha256,
            "MATRX_PROBE_RATE_MINUTES": str(c.probe_rate_minutes),
            "MATRX_BACKUP_CHECK_RATE_MINUTES": str(c.backup_check_rate_minutes),
            "MATRX_S3_BUCKET": self.storage.bucket.bucket_name,
            "MATRX_ALARM_TOPIC_ARN": self.alerts.topic.topic_arn,
            "MATRX_AGENT_TOKEN_SECRET_ARN": self.secrets.agent_token.secret_arn,
            "MATRX_DATABASE_URL_SECRET_ARN": self.secrets.database_url.secret_arn,
        }

    def _grant_functions(self) -> None:
        for scheduled in (self.health_probe, self.backup_check):
            self.secrets.grant_read(scheduled.role)
            self.alerts.grant_publish(scheduled.role)
        bucket, prefix = self.storage.bucket, self.config.prefix
        for statement in prefix_statements(
            bucket=bucket, prefix=prefix, object_actions=BACKUP_READ_ACTIONS
        ):
            self.backup_check.role.add_to_principal_policy(statement)
        suppress_prefix_wildcard(
            self.backup_check.role,
            bucket=bucket,
            prefix=prefix,
            reason="backup_check reads every backup object of this host "
            "to verify it; keys are only known at run time.",
        )

    def _outputs(self) -> None:
        outputs = {
            "BackupsBucketName": self.storage.bucket.bucket_name,
            "AccessLogsBucketName": self.storage.access_logs.bucket_name,
            "AgentBackupPrefix": self.agent.prefix,
            "AgentUserName": self.agent.user.user_name,
            "AgentUserArn": self.agent.user.user_arn,
            "AlarmTopicArn": self.alerts.topic.topic_arn,
            "AgentTokenSecretArn": self.secrets.agent_token.secret_arn,
            "DatabaseUrlSecretArn": self.secrets.database_url.secret_arn,
            "HealthProbeFunctionName": self.health_probe.function.function_name,
            "BackupCheckFunctionName": self.backup_check.function.function_name,
            "DashboardName": self.monitoring.dashboard.dashboard_name,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

    def _warn_about_missing_targets(self) -> None:
        if not self.config.agent_url:
            Annotations.of(self).add_warning_v2(
                "matrx:agent-url",
                "context 'agent_url' is empty: the probes have no agent to "
                "probe (pass -c agent_url=https://... or set it in cdk.json)",
            )


def _function_dir(lambdas_root: Path, name: str) -> Path:
    directory = lambdas_root / name
    if not (directory / "handler.py").is_file():
        raise FileNotFoundError(
            f"{directory}/handler.py not found: the {name} function has no "
            "code (pass lambdas_root, or -c lambdas_root=... to the CLI)"
        )
    return directory


def _probe_timeout(rate: Duration) -> Duration:
    """Shorter than the interval, so one run ends before the next starts."""
    return Duration.seconds(min(rate.to_seconds() - 5, 300))


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
