"""A Lambda function on an EventBridge schedule, with its own role and log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from cdk.bundling import RUNTIME, lambda_code

MEMORY_MB = 256
POWERTOOLS_ACCOUNT = "017000801446"  # the Powertools team's layer account (commercial regions)


def powertools_layer(scope: Construct, *, version: int) -> lambda_.ILayerVersion:
    """The public Powertools layer for python3.12 on x86_64, in the stack's region."""
    arn = (
        f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python312-x86_64:{version}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


class ScheduledFunction(Construct):
    """`<function_dir>/handler.py:handler`, bundled with `lambdas/common/` and `matrx_ship/`,
    invoked every `rate`.

    A failed run is not retried: the next scheduled run is the retry, and the errors
    alarm tells a person. The role starts empty apart from writing its own log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_dir: Path,
        shared_lib: Path,
        rate: Duration,
        timeout: Duration,
        environment: Mapping[str, str],
        layers: Sequence[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,  # the layer's architecture
            handler="handler.handler",
            code=lambda_code(function_dir=function_dir, shared_lib=shared_lib),
            role=self.role,
            log_group=self.log_group,
            memory_size=MEMORY_MB,
            timeout=timeout,
            environment=dict(environment),
            layers=list(layers),
            retry_attempts=0,
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(rate),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="python3.12 is chosen on purpose: the Powertools layer is built per "
                    "Python version and this one is pinned with it; upgrade both together.",
                )
            ],
        )
