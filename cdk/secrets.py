"""The two secrets the functions read: the agent token and the database URL."""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

AGENT_TOKEN_NAME = "matrx/agent-token"
DATABASE_URL_NAME = "matrx/database-url"

# Not a secret: it marks the value as unset until an operator writes the real URL with
# `aws secretsmanager put-secret-value`. CloudFormation never writes it again unless this
# literal changes, so the operator's value survives later deploys.
DATABASE_URL_PLACEHOLDER = "unset: put the SUPABASE_DB_URL here"

_MANUAL_ROTATION = (
    "Rotated by hand: the value is issued outside AWS (a token the on-box agent issues, "
    "the Supabase connection string), so no rotation Lambda could produce a new one."
)


class DeployTierSecrets(Construct):
    """Secrets Manager entries whose ARNs the functions receive in their environment."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.agent_token = secretsmanager.Secret(
            self,
            "AgentToken",
            secret_name=AGENT_TOKEN_NAME,
            description="Bearer token the probes present to the on-box agent (operate scope).",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
        )
        self.database_url = secretsmanager.Secret(
            self,
            "DatabaseUrl",
            secret_name=DATABASE_URL_NAME,
            description="SUPABASE_DB_URL: the state store the probes record results in.",
            secret_string_value=SecretValue.unsafe_plain_text(DATABASE_URL_PLACEHOLDER),
        )
        for secret in (self.agent_token, self.database_url):
            NagSuppressions.add_resource_suppressions(
                secret, [NagPackSuppression(id="AwsSolutions-SMG4", reason=_MANUAL_ROTATION)]
            )

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` read both values (and nothing else in Secrets Manager)."""
        self.agent_token.grant_read(grantee)
        self.database_url.grant_read(grantee)
