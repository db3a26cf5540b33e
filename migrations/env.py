"""Alembic environment: runs on a connection handed in by clipsearch, or on ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import create_engine

from clipsearch.store.schema import METADATA, modelled

config = context.config
target_metadata = METADATA
# include_name=modelled: the full-text index is raw SQL (migration 0005: FTS5 tables on SQLite, a
# GIN index on PostgreSQL), not SQLAlchemy models, so comparisons leave it alone.


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=modelled
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=modelled)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
