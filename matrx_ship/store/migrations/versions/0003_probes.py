"""probes: probe results, per-target state with escalation step and lease

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "probe_results",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False, index=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(16)),
        sa.Column("http_status", sa.Integer()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "probe_targets",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(500)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_checked_at", TS),
        sa.Column("last_ok_at", TS),
        sa.Column("state_since", TS, nullable=False),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("escalated_at", TS),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", TS),
    )


def downgrade() -> None:
    op.drop_table("probe_targets")
    op.drop_table("probe_results")
