"""Text of pages and pictures (FTS5 full-text index) and metadata on items

Revision ID: 0005_text_metadata
Revises: 0004_duplicates
Create Date: 2026-11-29 15:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_text_metadata"
down_revision = "0004_duplicates"
branch_labels = None
depends_on = None

#: 64-bit on PostgreSQL, SQLite's INTEGER (64-bit already; the rowid alias AUTOINCREMENT needs).
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: The full-text index over texts.terms, kept in step with the table by triggers. A delete or update
#: must hand FTS5 the old terms ('delete' command): external-content tables store no copy.
FTS = [
    "CREATE VIRTUAL TABLE texts_fts USING fts5(terms, content='texts', content_rowid='item_id', "
    'tokenize="unicode61 remove_diacritics 2")',
    # document frequency per term, read before ranking (store/fulltext.py: very common words)
    "CREATE VIRTUAL TABLE texts_fts_vocab USING fts5vocab(texts_fts, 'row')",
    "CREATE TRIGGER texts_fts_ai AFTER INSERT ON texts BEGIN "
    "INSERT INTO texts_fts(rowid, terms) VALUES (new.item_id, new.terms); END",
    "CREATE TRIGGER texts_fts_ad AFTER DELETE ON texts BEGIN "
    "INSERT INTO texts_fts(texts_fts, rowid, terms) VALUES ('delete', old.item_id, old.terms); END",
    "CREATE TRIGGER texts_fts_au AFTER UPDATE ON texts BEGIN "
    "INSERT INTO texts_fts(texts_fts, rowid, terms) VALUES ('delete', old.item_id, old.terms); "
    "INSERT INTO texts_fts(rowid, terms) VALUES (new.item_id, new.terms); END",
]
#: PostgreSQL's own full-text search instead: the terms' tsvector as a stored generated column with a
#: GIN index ('simple': no stemming, as FTS5's unicode61; the terms arrive case- and accent-folded,
#: see store/fulltext.py).
FTS_POSTGRESQL = [
    # stored, so ranking and phrase checks read it instead of parsing every matching text again
    "ALTER TABLE texts ADD COLUMN texts_fts_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED",
    "CREATE INDEX texts_fts_gin ON texts USING gin (texts_fts_vector)",
    # --under compares paths byte by byte (store/dialect.py): an index in that order serves it
    'CREATE INDEX items_path_bytes ON items (path COLLATE "C")',
]


def upgrade() -> None:
    # items first: SQLite's batch mode copies the table, best done before anything refers to it
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("taken_source", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("camera", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("place", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("file_type", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("extras_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("ocr_mode", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("time", sa.Float(), nullable=True))
        batch_op.create_index("ix_items_taken", ["taken"], unique=False)
    op.create_table(
        "texts",
        sa.Column("item_id", BIG, nullable=False, autoincrement=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("terms", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    for statement in FTS if op.get_bind().dialect.name == "sqlite" else FTS_POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_taken")
        for column in ("time", "ocr_mode", "extras_version", "file_type", "place", "lon", "lat", "camera"):
            batch_op.drop_column(column)
        batch_op.drop_column("taken_source")
        batch_op.drop_column("taken")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("texts_fts_au", "texts_fts_ad", "texts_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS texts_fts_vocab")
        op.execute("DROP TABLE IF EXISTS texts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS texts_fts_gin")
        op.execute("ALTER TABLE texts DROP COLUMN IF EXISTS texts_fts_vector")
        op.execute("DROP INDEX IF EXISTS items_path_bytes")
    op.drop_table("texts")
