"""inventory: positions, reservations, channel availability

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00.000000

Written by hand to mirror `store.tables` (inventory_positions, inventory_reservations,
channel_availability). Quantities are decimal text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_positions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.String(length=40), nullable=False),
        sa.Column("allocated", sa.String(length=40), nullable=False),
        sa.Column("unavailable", sa.String(length=40), nullable=False),
        sa.Column("inbound", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "item_code", "location", name=op.f("pk_inventory_positions")),
    )
    op.create_table(
        "inventory_reservations",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_ref", "item_code", name=op.f("pk_inventory_reservations")
        ),
    )
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_reservations_item", ["tenant_id", "item_code", "state"], unique=False
        )
    op.create_table(
        "channel_availability",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("computed", sa.String(length=40), nullable=False),
        sa.Column("computed_at", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("published", sa.String(length=40), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("pending_since", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "connection_id", "item_code", name=op.f("pk_channel_availability")
        ),
    )
    with op.batch_alter_table("channel_availability", schema=None) as batch_op:
        batch_op.create_index("ix_channel_availability_item", ["tenant_id", "item_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_availability", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_availability_item")
    op.drop_table("channel_availability")
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_reservations_item")
    op.drop_table("inventory_reservations")
    op.drop_table("inventory_positions")
