"""Where each line of OCR text stands in its picture, so a text match can show its words in place

Revision ID: 0007_text_boxes
Revises: 0006_text_errors
Create Date: 2026-12-02 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_text_boxes"
down_revision = "0006_text_errors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): the texts table carries the full-text index's triggers
    # (SQLite) and generated column (PostgreSQL), which a table rebuild would drop. Texts read before
    # this have no boxes: their matches show a snippet only, until the file is read again.
    op.add_column("texts", sa.Column("boxes", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("texts", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("boxes")
