"""databases: one dedicated Postgres per service, its password encrypted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "databases",
        sa.Column("service", sa.String(40), primary_key=True),
        sa.Column("container", sa.String(120), nullable=False),
        sa.Column("volume", sa.String(120), nullable=False),
        sa.Column("network", sa.String(120), nullable=False),
        sa.Column("image", sa.String(300), nullable=False),
        sa.Column("db", sa.String(63), nullable=False),
        sa.Column("user", sa.String(63), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("databases")
