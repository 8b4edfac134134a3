"""reservation shipments: the sequenced shipment entries that ended part of an order's hold

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 03:00:00.000000

Written by hand to mirror `store.tables.reservation_shipments`. A shipment entry delivered
again (another webhook id, or after a snapshot counted it) must not end the hold twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservation_shipments",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_ref", "item_code", "source", "location", "sequence",
            name=op.f("pk_reservation_shipments"),
        ),
    )


def downgrade() -> None:
    op.drop_table("reservation_shipments")
