"""The backup bucket and the bucket that receives its server access logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

TO_INFREQUENT_ACCESS = Duration.days(30)
TO_GLACIER_INSTANT_RETRIEVAL = Duration.days(90)
NONCURRENT_RETENTION = Duration.days(90)
ACCESS_LOG_RETENTION = Duration.days(90)


class BackupStorage(Construct):
    """Versioned, encrypted, private, TLS-only storage for dumps and archives.

    Objects move to colder classes as they age. A deleted or overwritten object stays
    recoverable as a noncurrent version for `NONCURRENT_RETENTION`, so even the agent's
    own credentials cannot destroy a backup at once.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # cdk-nag accepts a bucket that receives access logs without logs of its own.
        self.access_logs = _private_bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=ACCESS_LOG_RETENTION)],
        )
        self.bucket = _private_bucket(
            self,
            "Backups",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="backups/",
            lifecycle_rules=_backup_lifecycle(),
            removal_policy=RemovalPolicy.RETAIN,
        )


def _private_bucket(scope: Construct, construct_id: str, **props: Any) -> s3.Bucket:
    """SSE-S3 (the only encryption access logs can be delivered to), no public access,
    no ACLs, TLS 1.2 or newer only."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        **props,
    )


def _backup_lifecycle() -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="age-to-colder-storage",
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=TO_INFREQUENT_ACCESS,
                ),
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                    transition_after=TO_GLACIER_INSTANT_RETRIEVAL,
                ),
            ],
            noncurrent_version_expiration=NONCURRENT_RETENTION,
            abort_incomplete_multipart_upload_after=Duration.days(7),
        ),
        s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
    ]
