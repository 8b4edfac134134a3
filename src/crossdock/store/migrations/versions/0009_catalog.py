"""catalog: item master records and channel listings

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 12:00:00.000000

Written by hand to mirror `store.tables` (catalog_items, catalog_listings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "item_code", name=op.f("pk_catalog_items")),
    )
    op.create_table(
        "catalog_listings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_digest", sa.String(length=64), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("feed_id", sa.String(length=64), nullable=True),
        sa.Column("feed_message", sa.Integer(), nullable=True),
        sa.Column("channel_ref", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.Float(), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_id", "item_code", name=op.f("pk_catalog_listings")),
    )
    with op.batch_alter_table("catalog_listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_listings_queue", ["tenant_id", "connection_id", "status", "queued_at"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_listings_feed", ["tenant_id", "connection_id", "feed_id"], unique=False
        )
        batch_op.create_index("ix_catalog_listings_item", ["tenant_id", "item_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_listings", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_listings_item")
        batch_op.drop_index("ix_catalog_listings_feed")
        batch_op.drop_index("ix_catalog_listings_queue")
    op.drop_table("catalog_listings")
    op.drop_table("catalog_items")
