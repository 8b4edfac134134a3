"""quota stamps: a connection's sliding-window submission quotas, shared by every process

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 07:00:00.000000

Written by hand to mirror `store.tables.quota_stamps`. Feed windows (Amazon 5 listings feeds
per 5 minutes, Walmart 10 inventory feeds an hour) were counted per process, so N worker
processes could submit N times the channel's allowance.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_stamps",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("quota", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", "quota", "holder", name=op.f("pk_quota_stamps")),
    )


def downgrade() -> None:
    op.drop_table("quota_stamps")
