"""Lambda entry: check every service's newest backup, on a schedule (hourly by default)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.backup_check import check
from lambdas.backup_check.settings import get_settings

SERVICE = "backup_check"  # the `service` dimension cdk/monitoring.py alarms on

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)
tracer = Tracer(service=SERVICE)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = check.run_check(
        get_settings(), s3=boto3.client("s3"), sns=boto3.client("sns"), metrics=metrics
    )
    return report.as_dict()
