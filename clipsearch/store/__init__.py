"""Store: one index folder (manifest, lock, FAISS file) and its SQLite catalog with Alembic migrations.

The catalog is the source of truth; the vector index catches up from it after any crash. Knows
models only as data (:class:`~clipsearch.models.registry.ModelInfo` in the manifest).
"""
