"""stock ledger: each position's sequence, and the journal of sequenced adjustments

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 12:00:00.000000

Written by hand to mirror `store.tables` (inventory_positions.sequence and
.sequence_source, inventory_journal). Existing positions keep no sequence: their sources
did not number their reports. Deltas are decimal text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("sequence_source", sa.String(length=64), nullable=True))
    op.create_table(
        "inventory_journal",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("on_hand", sa.String(length=40), nullable=False),
        sa.Column("allocated", sa.String(length=40), nullable=False),
        sa.Column("unavailable", sa.String(length=40), nullable=False),
        sa.Column("inbound", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "item_code", "location", "sequence", name=op.f("pk_inventory_journal")
        ),
    )


def downgrade() -> None:
    op.drop_table("inventory_journal")
    with op.batch_alter_table("inventory_positions", schema=None) as batch_op:
        batch_op.drop_column("sequence_source")
        batch_op.drop_column("sequence")
