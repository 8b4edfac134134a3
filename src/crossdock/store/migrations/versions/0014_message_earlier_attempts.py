"""message earlier attempts: what an operator's retry took off the attempt count

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 23:40:00.000000

Written by hand to mirror `store.tables.messages`. A retry from the exception desk gives the
parked message a fresh budget (`attempts` 0), and the steps with an external effect (the ERP
sales order, a warehouse release, a channel confirmation) looked the reference up only when
`attempts` said an earlier attempt had run: after an ERP outage outlasted the retries, the
operator's retry created the sales order a second time. Existing messages have no record of
earlier retries; 0 is what they were read as.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earlier_attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("earlier_attempts")
