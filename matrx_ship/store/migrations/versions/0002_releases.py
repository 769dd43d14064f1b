"""releases, jobs, job events, deployments, log archives

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("service", sa.String(40), nullable=False, index=True),
        sa.Column("commit_sha", sa.String(40)),
        sa.Column("message", sa.Text()),
        sa.Column("author", sa.String(200)),
        sa.Column("committed_at", TS),
        sa.Column("image", sa.String(300)),
        sa.Column("image_id", sa.String(80)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("build_seconds", sa.Float()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("build_log_key", sa.String(300)),
        sa.Column("archive_key", sa.String(300)),
        sa.Column("archive_sha256", sa.String(64)),
        sa.Column("archive_size", sa.BigInteger()),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service", sa.String(40), index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("step", sa.String(200)),
        sa.Column("percent", sa.Integer()),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON()),
    )
    op.create_table(
        "job_events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), nullable=False, index=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("service", sa.String(40), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_release", sa.String(32)),
        sa.Column("to_release", sa.String(32)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(32)),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("finished_at", TS),
        sa.Column("seconds", sa.Float()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_table(
        "log_archives",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(40), nullable=False, index=True),
        sa.Column("container", sa.String(120), nullable=False),
        sa.Column("release", sa.String(32)),
        sa.Column("first_at", sa.String(40)),
        sa.Column("last_at", sa.String(40)),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("log_archives", "deployments", "job_events", "jobs", "releases"):
        op.drop_table(table)
