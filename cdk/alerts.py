"""The SNS topic every alarm (and a probe that gives up) tells people through."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """An encrypted, TLS-only topic with an optional email subscription.

    The key is customer-managed because CloudWatch alarms cannot publish to a topic
    encrypted with the AWS-managed `aws/sns` key: its key policy cannot admit them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, email: str = "") -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the matrx alarm topic.",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # messages are transient; nothing to lose
        )
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey"
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="matrx alarms", master_key=self.key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Publish rights spelled out (the stock grant adds `kms:GenerateDataKey*`)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]
            )
        )
