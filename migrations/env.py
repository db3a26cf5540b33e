"""Alembic environment: runs on a connection handed in by clipsearch, or on ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import create_engine

from clipsearch.store.schema import FTS_PREFIX, METADATA

config = context.config
target_metadata = METADATA


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    """The FTS5 index and its shadow tables are raw SQL (migration 0005): not SQLAlchemy models."""
    return not (type_ == "table" and name and name.startswith(FTS_PREFIX))


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
