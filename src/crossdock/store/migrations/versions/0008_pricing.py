"""pricing: base prices, effective-dated price entries, channel prices, price approvals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00.000000

Written by hand to mirror `store.tables` (base_prices, price_entries, channel_prices,
price_approvals). Prices are decimal text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "base_prices",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price", sa.String(length=40), nullable=False),
        sa.Column("cost", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "item_code", name=op.f("pk_base_prices")),
    )
    op.create_table(
        "price_entries",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("price", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("cancelled_at", sa.Float(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "ref", name=op.f("pk_price_entries")),
    )
    with op.batch_alter_table("price_entries", schema=None) as batch_op:
        batch_op.create_index("ix_price_entries_item", ["tenant_id", "item_code"], unique=False)
    op.create_table(
        "channel_prices",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("computed", sa.String(length=40), nullable=False),
        sa.Column("computed_at", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("confirmed", sa.String(length=40), nullable=True),
        sa.Column("confirmed_at", sa.Float(), nullable=True),
        sa.Column("publish_state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", "item_code", name=op.f("pk_channel_prices")),
    )
    with op.batch_alter_table("channel_prices", schema=None) as batch_op:
        batch_op.create_index("ix_channel_prices_item", ["tenant_id", "item_code"], unique=False)
        batch_op.create_index(
            "ix_channel_prices_queue", ["tenant_id", "connection_id", "publish_state"], unique=False
        )
    op.create_table(
        "price_approvals",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("old_price", sa.String(length=40), nullable=True),
        sa.Column("new_price", sa.String(length=40), nullable=False),
        sa.Column("change_percent", sa.String(length=40), nullable=True),
        sa.Column("threshold_percent", sa.String(length=40), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_approvals")),
    )
    with op.batch_alter_table("price_approvals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_price_approvals_status", ["tenant_id", "status", "requested_at"], unique=False
        )
        batch_op.create_index(
            "ix_price_approvals_item", ["tenant_id", "connection_id", "item_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("price_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_price_approvals_item")
        batch_op.drop_index("ix_price_approvals_status")
    op.drop_table("price_approvals")
    with op.batch_alter_table("channel_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_prices_queue")
        batch_op.drop_index("ix_channel_prices_item")
    op.drop_table("channel_prices")
    with op.batch_alter_table("price_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_price_entries_item")
    op.drop_table("price_entries")
    op.drop_table("base_prices")
