"""Lambda entry: one scheduled invocation a minute, several probe rounds inside it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.health_probe import probe
from lambdas.health_probe.settings import get_settings

SERVICE = "health_probe"  # the `service` dimension cdk/monitoring.py alarms on
SAFETY_S = 2.0  # left for the last flush and the log lines

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)
tracer = Tracer(service=SERVICE)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    runner = probe.Runner.build(get_settings(), metrics)
    budget = context.get_remaining_time_in_millis() / 1000 - SAFETY_S
    reports = probe.run_invocation(runner, budget_s=budget, flush=metrics.flush_metrics)
    return probe.summary(reports)
