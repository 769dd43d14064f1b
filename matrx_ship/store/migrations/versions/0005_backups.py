"""backups: the backup catalog (service and system backups, their parts and checks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service", sa.String(40), index=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("finished_at", TS),
        sa.Column("seconds", sa.Float()),
        sa.Column("size", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("prefix", sa.String(300), nullable=False),
        sa.Column("manifest_key", sa.String(300)),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON()),
        sa.Column("verified_at", TS),
        sa.Column("verification", sa.JSON()),
        sa.Column("pruned_at", TS),
        sa.Column("note", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("backups")
