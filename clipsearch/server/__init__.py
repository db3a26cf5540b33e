"""The HTTP front end: a FastAPI application over one index, and its single static page."""

from __future__ import annotations

from .app import create_app, is_loopback

__all__ = ["create_app", "is_loopback"]
