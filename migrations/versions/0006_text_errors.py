"""Why an item's text could not be read (OCR crashed or ran past its time limit)

Revision ID: 0006_text_errors
Revises: 0005_text_metadata
Create Date: 2026-12-02 07:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_text_errors"
down_revision = "0005_text_metadata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_error", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("text_error")
