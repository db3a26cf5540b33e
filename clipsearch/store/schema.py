"""The catalog's schema: SQLAlchemy Core tables (the engines are ``dialect.py``'s).

Kept apart from :mod:`catalog` so the Alembic glue (``migrate``) and the migration scripts read the
tables without importing the catalog class, and the catalog imports the glue, not the reverse.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

#: The Alembic revision this code's models correspond to (a test checks it equals the script head).
SCHEMA_HEAD = "0007_text_boxes"


#: The schema, as SQLAlchemy Core tables (not ORM classes: importing the ORM would slow a cold
#: query (`make bench`: cold_query_s), and every statement here is Core anyway). Alembic migrations mirror it.
METADATA = MetaData()

#: A 64-bit integer: BIGINT on PostgreSQL (a file's size past 2 GB, mtime in nanoseconds, ids of a
#: collection past 2^31), INTEGER on SQLite, whose integers are 64-bit already and where only
#: ``INTEGER PRIMARY KEY`` is the rowid that AUTOINCREMENT needs. The migrations spell it the same.
BIG = BigInteger().with_variant(Integer(), "sqlite")

#: One searchable picture: an image file, or one page of a PDF (``page`` >= 1; 0 for images).
ITEMS = Table(
    "items",
    METADATA,
    Column("id", BIG, primary_key=True, autoincrement=True),
    Column("path", String, nullable=False),
    Column("page", Integer, nullable=False, default=0),
    Column("size", BIG, nullable=False),
    Column("mtime_ns", BIG, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("width", Integer, nullable=False, default=0),
    Column("height", Integer, nullable=False, default=0),
    Column("vector", LargeBinary, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("indexed_at", Float, nullable=False),
    # 128-bit perceptual code (pHash + dHash of the border-trimmed picture), for duplicate search.
    Column("phash", LargeBinary, nullable=True),
    # Metadata (NULL: unknown). taken: ISO local time 'YYYY-MM-DDTHH:MM:SS', from taken_source
    # 'exif' (DateTimeOriginal), 'pdf' (CreationDate) or 'mtime'. place: "City, Region, CC" found
    # offline from lat/lon. file_type: the lower-case extension without its dot ('jpg', 'pdf').
    Column("taken", String, nullable=True),
    Column("taken_source", String, nullable=True),
    Column("camera", String, nullable=True),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("place", String, nullable=True),
    Column("file_type", String, nullable=True),
    # What was extracted beyond the picture: EXTRAS_VERSION of the extractor, and the OCR mode it
    # ran with; an index run fills in items behind either (no re-embedding).
    Column("extras_version", Integer, nullable=False, server_default="0"),
    # A video frame's time in seconds (``page`` numbers the kept frames 1..n); NULL for the rest.
    Column("time", Float, nullable=True),
    Column("ocr_mode", String, nullable=True),
    # Why the text pass could not read this item's text (OCR crashed, or ran past its time limit):
    # it counts as read, and is not tried again until the file changes.
    Column("text_error", String, nullable=True),
    UniqueConstraint("path", "page", name="uq_items_path_page"),
    Index("ix_items_content_hash", "content_hash"),
    Index("ix_items_seq", "seq"),
    Index("ix_items_taken", "taken"),
    sqlite_autoincrement=True,  # ids are FAISS ids: never reuse one
)

#: Tombstones: item ids deleted at ``seq``, so the vector index can drop them when it catches up.
REMOVED = Table(
    "removed",
    METADATA,
    Column("id", BIG, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False, index=True),
)

#: Files that could not be indexed, with why; retried only when size or mtime change.
SKIPPED = Table(
    "skipped",
    METADATA,
    Column("path", String, primary_key=True),
    Column("size", BIG, nullable=False),
    Column("mtime_ns", BIG, nullable=False),
    Column("reason", String, nullable=False),
)

META = Table(
    "meta",
    METADATA,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

#: A category in plain language: prompts (ensembled through templates) and optional examples.
CATEGORIES = Table(
    "categories",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False, unique=True),
    Column("facet", String, nullable=False, index=True),
    Column("prompts", String, nullable=False),  # JSON list
    Column("threshold", Float, nullable=True),
    Column("text_vector", LargeBinary, nullable=False),
    Column("builtin", Integer, nullable=False, default=0),
)

#: A labelled example image (few-shot) with its vector, kept so probes refit without the model.
EXAMPLES = Table(
    "category_examples",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("path", String, nullable=False),
    Column("page", Integer, nullable=False, default=0),
    Column("vector", LargeBinary, nullable=False),
)

#: How a facet labels items: 'zero-shot' prompts or a 'probe' fitted on examples (and why).
FACETS = Table(
    "facets",
    METADATA,
    Column("name", String, primary_key=True),
    Column("method", String, nullable=False, default="zero-shot"),
    Column("probe", LargeBinary, nullable=True),  # float32 (k, dim+1)
    Column("zero_shot_accuracy", Float, nullable=True),
    Column("probe_accuracy", Float, nullable=True),
)

#: An item's best category in a facet, with its probability (category_id NULL: below threshold).
LABELS = Table(
    "labels",
    METADATA,
    Column("item_id", BIG, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("facet", String, primary_key=True),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), nullable=True),
    Column("prob", Float, nullable=False),
    Index("ix_labels_facet_category", "facet", "category_id"),
)

#: A vector of one region of an item (e.g. the title block of a drawing), searched on its own.
REGIONS = Table(
    "regions",
    METADATA,
    Column("item_id", BIG, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("region", String, primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

#: Two items a user said are not duplicates (``duplicates --dismiss``); a < b.
DISMISSED = Table(
    "dismissed_pairs",
    METADATA,
    Column("a", BIG, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("b", BIG, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
)


#: The text of an item: a PDF page's text layer ('pdf') or what OCR read ('ocr'). ``body`` as read,
#: for snippets; ``terms`` the same text made searchable (CJK characters spaced, see
#: ``query/fulltext.py``), indexed by the FTS5 table ``texts_fts`` (external content, kept in step by
#: triggers; see migration 0005). Deleting an item deletes its text (cascade) and its index entry.
TEXTS = Table(
    "texts",
    METADATA,
    Column("item_id", BIG, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("source", String, nullable=False),
    Column("body", String, nullable=False),
    Column("terms", String, nullable=False),
    #: Where each line stands (OCR text only): JSON ``[[x0, y0, x1, y1, line], ...]``, fractions of
    #: the picture, so a text match can show its words in place (migration 0007).
    Column("boxes", String, nullable=True),
)
#: Objects of the full-text index that SQLAlchemy's models do not describe (SQLite: the FTS5 virtual
#: table, its shadow tables, triggers; PostgreSQL: the GIN index over ``to_tsvector(terms)``):
#: schema comparisons leave names starting with this alone.
FTS_PREFIX = "texts_fts"
#: Every object migrations make in raw SQL: the full-text index's (on PostgreSQL a generated
#: ``texts.texts_fts_vector`` column and its GIN index), and on PostgreSQL an index of
#: paths in byte order (``path COLLATE "C"``, for ``--under``), which the models cannot spell for
#: both engines.
RAW_SQL_PREFIXES = (FTS_PREFIX, "items_path_bytes")


def modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: leave the objects made in raw SQL out of schema comparisons."""
    return not (type_ in ("table", "index", "column") and name is not None and name.startswith(RAW_SQL_PREFIXES))
