"""Alembic migrations of the clipsearch catalog (installed as the ``clipsearch_migrations`` package)."""
