"""availability publishing: outbox, channel listings, pending feeds, flush flags, drift reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000

Written by hand to mirror `store.tables` (publish_queue, channel_listings, publish_batches,
publish_channels, drift_reports). Quantities are decimal text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_queue",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", "item_code", name=op.f("pk_publish_queue")),
    )
    with op.batch_alter_table("publish_queue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_publish_queue_next", ["tenant_id", "connection_id", "rank", "queued_at"], unique=False
        )
        batch_op.create_index(
            "ix_publish_queue_quiet", ["tenant_id", "connection_id", "updated_at"], unique=False
        )
    op.create_table(
        "channel_listings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("confirmed", sa.String(length=40), nullable=True),
        sa.Column("confirmed_seq", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.Float(), nullable=True),
        sa.Column("sent", sa.String(length=40), nullable=True),
        sa.Column("sent_seq", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("remote_ref", sa.String(length=200), nullable=True),
        sa.Column("observed", sa.String(length=40), nullable=True),
        sa.Column("observed_at", sa.Float(), nullable=True),
        sa.Column("drift_since", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", "item_code", name=op.f("pk_channel_listings")),
    )
    op.create_table(
        "publish_batches",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("batch_ref", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.Float(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "batch_ref", name=op.f("pk_publish_batches")),
    )
    with op.batch_alter_table("publish_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_publish_batches_state", ["tenant_id", "connection_id", "state"], unique=False
        )
    op.create_table(
        "publish_channels",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("flush_due", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", name=op.f("pk_publish_channels")),
    )
    op.create_table(
        "drift_reports",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("items_checked", sa.Integer(), nullable=False),
        sa.Column("items_drifted", sa.Integer(), nullable=False),
        sa.Column("items_missing", sa.Integer(), nullable=False),
        sa.Column("total_abs_diff", sa.String(length=40), nullable=False),
        sa.Column("max_abs_diff", sa.String(length=40), nullable=False),
        sa.Column("oldest_drift_since", sa.Float(), nullable=True),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "run_id", name=op.f("pk_drift_reports")),
    )
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drift_reports_connection", ["tenant_id", "connection_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_reports_connection")
    op.drop_table("drift_reports")
    op.drop_table("publish_channels")
    with op.batch_alter_table("publish_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_publish_batches_state")
    op.drop_table("publish_batches")
    op.drop_table("channel_listings")
    with op.batch_alter_table("publish_queue", schema=None) as batch_op:
        batch_op.drop_index("ix_publish_queue_quiet")
        batch_op.drop_index("ix_publish_queue_next")
    op.drop_table("publish_queue")
