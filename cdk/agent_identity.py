"""The least-privilege identity the on-box agent uses to write its backups."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


class AgentIdentity(Construct):
    """An IAM user that can touch only `<host>/` in the backup bucket.

    A user, not a role: the agent runs on a VPS outside AWS, where no instance profile
    can hand it temporary credentials. Its access key is created by bootstrap (never by
    this stack, so the secret half never passes through CloudFormation). Deleting an
    object only adds a delete marker on the versioned bucket; the agent cannot delete
    versions, so a leaked key cannot destroy existing backups.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, host: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = f"{host}/"
        self.user = iam.User(self, "User", user_name=f"matrx-agent-{host}")
        self.policy = iam.Policy(
            self,
            "BackupPrefixAccess",
            statements=prefix_statements(
                bucket=bucket, prefix=self.prefix, object_actions=OBJECT_ACTIONS
            ),
        )
        self.policy.attach_to_user(self.user)
        suppress_prefix_wildcard(
            self.policy,
            bucket=bucket,
            prefix=self.prefix,
            reason="The agent writes objects whose keys it chooses at "
            "run time, all under its own host prefix.",
        )


def prefix_statements(
    *, bucket: s3.IBucket, prefix: str, object_actions: list[str]
) -> list[iam.PolicyStatement]:
    """Object actions on `prefix*` only, and listing only with an `s3:prefix` inside it."""
    return [
        iam.PolicyStatement(
            actions=object_actions, resources=[bucket.arn_for_objects(f"{prefix}*")]
        ),
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
    ]


def suppress_prefix_wildcard(
    construct: Construct, *, bucket: s3.IBucket, prefix: str, reason: str
) -> None:
    """Acknowledge exactly the `<bucket>/<prefix>*` wildcard finding, nothing wider."""
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    logical_id = Stack.of(bucket).get_logical_id(cfn_bucket)
    NagSuppressions.add_resource_suppressions(
        construct,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason=reason,
                applies_to=[f"Resource::<{logical_id}.Arn>/{prefix}*"],
            )
        ],
        apply_to_children=True,
    )
