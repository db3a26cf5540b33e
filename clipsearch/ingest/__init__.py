"""Ingest: find files (scan), decode images and PDF pages, perceptual codes, and the incremental
indexer that embeds what changed and commits it to the store; ``check`` verifies and repairs."""
