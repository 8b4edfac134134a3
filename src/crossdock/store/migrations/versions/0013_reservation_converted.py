"""reservation converted: what of an order's wanted units a stock source allocates to it

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 16:40:00.000000

Written by hand to mirror `store.tables.inventory_reservations`. A reservation converted only
as a whole, and only its still-reserved units were known: a shipment of allocated units took
reserved ones too, a deallocation could not give units back to an order that still wanted
them, and a short pick of allocated units freed another warehouse's reservation. No released
version wrote converted rows (the whole-row conversion before this revision never shipped), so
every existing row holds what it wants (`converted` 0); a row in the `converted` state would
keep holding nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("converted", sa.String(length=40), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inventory_reservations", schema=None) as batch_op:
        batch_op.drop_column("converted")
