"""``clipsearch serve``: an HTTP API over one index, and a web page to look at the results.

Safety by construction: files and thumbnails are reached only by item id (an integer path
parameter), never by a client-supplied path, and a file is served only while it still is what was
indexed (same size and mtime, a regular file) — a file swapped for a symlink elsewhere is refused.
Uploads are size-capped and decoded with the decompression-bomb bound. ``token`` requires
``Authorization: Bearer TOKEN`` (or ``?token=`` for image tags) on every API call.

The model loads once, on the first query that needs it; text embeddings are cached; one lock
serialises the vector index catch-up and search, so concurrent requests are safe.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from ..config import IndexLocation
from ..errors import ClipsearchError, ImageLoadError, IndexNotFoundError, UsageError
from .routes import add_item_routes, add_query_routes
from .state import ServerState

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_app(
    location: IndexLocation,
    *,
    token: str | None = None,
    device: str | None = None,
    loader: Any = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> Any:
    """The FastAPI application for one index (opened now: a missing index fails here, not later)."""
    state = ServerState(location, device, loader)
    app = FastAPI(title="clipsearch", version="1", description="Semantic image search over one index.")
    app.state.clipsearch = state

    def require_token(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ClipsearchError)
    async def _errors(_request: Request, err: ClipsearchError) -> JSONResponse:
        code = (
            404 if isinstance(err, IndexNotFoundError) else 400 if isinstance(err, UsageError | ImageLoadError) else 500
        )
        return JSONResponse({"error": str(err)}, status_code=code)

    guard = [Depends(require_token)]

    add_query_routes(app, state, guard, max_upload_bytes)
    add_item_routes(app, state, guard)
    return app


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
