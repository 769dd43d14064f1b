"""Alarms on what the probes report, and the dashboard that shows it.

Metric contract with the handlers: Powertools `Metrics` with the namespace from
`POWERTOOLS_METRICS_NAMESPACE` and its default dimension `service` (the function's
`POWERTOOLS_SERVICE_NAME`), and no other dimension on these metrics:

- health_probe: `ManagerDown` (1 when the manager failed this run, 0 when healthy) and
  `ProbeFailures` (count of failed routes this run);
- backup_check: `BackupStale` (1 when the newest backup is older than the RPO or fails
  its checksum, else 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

NAMESPACE = "MatrxShip"
HEALTH_PROBE = "health_probe"
BACKUP_CHECK = "backup_check"


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """One alarm: a metric, how many of the last periods must breach, and what to do."""

    name: str
    metric: cw.IMetric
    threshold: float
    description: str
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING


class Monitoring(Construct):
    """Every alarm sends ALARM and OK to `topic`; the dashboard puts them on one page."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        health_probe: lambda_.IFunction,
        backup_check: lambda_.IFunction,
        topic: sns.ITopic,
        probe_rate: Duration,
        backup_check_rate: Duration,
        name_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cw_actions.SnsAction(topic)
        self._prefix = name_prefix
        specs = [
            *_probe_alarms(health_probe, probe_rate),
            _backup_alarm(backup_check_rate),
            *(
                _errors_alarm(fn, label)
                for fn, label in ((health_probe, HEALTH_PROBE), (backup_check, BACKUP_CHECK))
            ),
        ]
        self.alarms = {spec.name: self._alarm(spec) for spec in specs}
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=name_prefix,
            widgets=_widgets(self, health_probe, backup_check),
        )

    def _alarm(self, spec: AlarmSpec) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            _construct_id(spec.name),
            alarm_name=f"{self._prefix}-{spec.name}",
            alarm_description=spec.description,
            metric=spec.metric,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.missing,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm


def probe_metric(name: str, *, service: str, period: Duration, statistic: str) -> cw.Metric:
    """A metric the handlers emit through Powertools (see the module docstring)."""
    return cw.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        period=period,
        statistic=statistic,
    )


def _probe_alarms(health_probe: lambda_.IFunction, rate: Duration) -> list[AlarmSpec]:
    silence = Duration.minutes(max(5, 3 * int(rate.to_minutes())))
    return [
        AlarmSpec(
            name="manager-down",
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric=probe_metric(
                "ManagerDown", service=HEALTH_PROBE, period=rate, statistic="Maximum"
            ),
            description="The Server Manager failed 2 of the last 3 probes. The probe restarts "
            "it, then rolls back; check the agent's /readyz and its audit log.",
        ),
        AlarmSpec(
            name="probe-failures",
            threshold=1,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric=probe_metric(
                "ProbeFailures", service=HEALTH_PROBE, period=rate, statistic="Sum"
            ),
            description="Public routes failed in 2 of the last 3 probe runs; the probe's log "
            "names them.",
        ),
        AlarmSpec(
            name="probe-silent",
            threshold=1,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cw.TreatMissingData.BREACHING,
            metric=health_probe.metric_invocations(period=silence, statistic="Sum"),
            description="The health probe has not run: nothing is watching the manager. Check "
            "the schedule rule and the function.",
        ),
    ]


def _backup_alarm(rate: Duration) -> AlarmSpec:
    return AlarmSpec(
        name="backup-stale",
        threshold=1,
        metric=probe_metric("BackupStale", service=BACKUP_CHECK, period=rate, statistic="Maximum"),
        description="The newest backup is older than the RPO or failed its checksum; the check "
        "asked the agent for a new one. Look at the agent's backup jobs.",
    )


def _errors_alarm(function: lambda_.IFunction, label: str) -> AlarmSpec:
    return AlarmSpec(
        name=f"{label.replace('_', '-')}-errors",
        threshold=1,
        metric=function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
        description=f"The {label} function raised an error; its log group has the traceback.",
    )


def _widgets(
    monitoring: Monitoring, health_probe: lambda_.IFunction, backup_check: lambda_.IFunction
) -> list[list[cw.IWidget]]:
    def graph(title: str, metrics: list[cw.IMetric]) -> cw.GraphWidget:
        return cw.GraphWidget(title=title, left=metrics, width=12)

    def function_graph(fn: lambda_.IFunction, label: str) -> cw.GraphWidget:
        return cw.GraphWidget(
            title=label,
            width=12,
            left=[fn.metric_invocations(), fn.metric_errors()],
            right=[fn.metric_duration()],
        )

    five = Duration.minutes(5)
    return [
        [cw.AlarmStatusWidget(title="Alarms", alarms=list(monitoring.alarms.values()), width=24)],
        [
            graph(
                "Manager and routes",
                [
                    probe_metric(
                        "ManagerDown", service=HEALTH_PROBE, period=five, statistic="Maximum"
                    ),
                    probe_metric(
                        "ProbeFailures", service=HEALTH_PROBE, period=five, statistic="Sum"
                    ),
                ],
            ),
            graph(
                "Backups",
                [
                    probe_metric(
                        "BackupStale", service=BACKUP_CHECK, period=five, statistic="Maximum"
                    ),
                ],
            ),
        ],
        [function_graph(health_probe, HEALTH_PROBE), function_graph(backup_check, BACKUP_CHECK)],
    ]


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "Alarm"
