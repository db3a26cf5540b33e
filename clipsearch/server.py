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
import io
import mimetypes
import os
import stat
import threading
from collections import OrderedDict
from importlib import resources
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .atomic import atomic_path
from .catalog import ItemRow
from .categories import Categories
from .config import IndexLocation
from .duplicates import find_duplicates
from .embedding import Encoder
from .errors import ClipsearchError, ImageLoadError, IndexNotFoundError, UsageError
from .images import load_image
from .pdf import render_pages
from .search import CategoryFilter, Searcher, SearchResult
from .store import IndexStore

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_MAX_MEGAPIXELS = 50.0
THUMBNAIL_SIZE = 256
TEXT_CACHE_SIZE = 1024


class _State:
    """What one server process shares between requests."""

    def __init__(self, location: IndexLocation, device: str | None, loader: Any) -> None:
        from . import api

        self.store = IndexStore.open(location)
        self.lock = threading.RLock()
        self._encoder: Encoder | None = None
        self._load = api.encoder_factory(self.store, device=device, **({"loader": loader} if loader else {}))
        self.searcher = Searcher(self.store, self.encoder)
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        self.thumbnails = self.store.path / "thumbnails"

    def encoder(self) -> Encoder:
        with self.lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder

    def text_vector(self, text: str) -> np.ndarray:
        with self.lock:
            if text in self._texts:
                self._texts.move_to_end(text)
                return self._texts[text]
            vec = self.searcher.text_vector(text)
            self._texts[text] = vec
            if len(self._texts) > TEXT_CACHE_SIZE:
                self._texts.popitem(last=False)
            return vec

    def row(self, item_id: int) -> ItemRow:
        row = self.store.catalog.get([item_id]).get(item_id)
        if row is None:
            raise IndexNotFoundError(f"no item {item_id}")
        return row

    def current_file(self, row: ItemRow) -> str:
        """The item's file, if it is still the regular file that was indexed."""
        try:
            st = os.stat(row.path)
        except OSError as err:
            raise IndexNotFoundError(f"item {row.id}: its file is gone") from err
        if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (row.size, row.mtime_ns):
            raise IndexNotFoundError(f"item {row.id}: its file changed since it was indexed; run index again")
        return row.path

    def thumbnail(self, row: ItemRow) -> bytes:
        path = self.current_file(row)
        cached = self.thumbnails / f"{row.id}-{row.mtime_ns}-{row.page}.webp"
        if cached.is_file():
            return cached.read_bytes()
        if row.page:
            _, image = next(render_pages(path, pages=[row.page], long_side=THUMBNAIL_SIZE * 2))
        else:
            image = load_image(path, THUMBNAIL_SIZE)
        image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        buf = io.BytesIO()
        image.save(buf, "WEBP", quality=80)
        data = buf.getvalue()
        with atomic_path(cached) as tmp:
            tmp.write_bytes(data)
        return data


def _result(r: SearchResult) -> dict[str, Any]:
    data = r.to_dict()
    data["thumbnail"] = f"/api/items/{r.id}/thumbnail"
    data["file"] = f"/api/items/{r.id}/file"
    return data


def _filters(category: list[str], not_category: list[str]) -> CategoryFilter:
    return CategoryFilter(tuple(category), tuple(not_category))


def create_app(
    location: IndexLocation,
    *,
    token: str | None = None,
    device: str | None = None,
    loader: Any = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> Any:
    """The FastAPI application for one index (opened now: a missing index fails here, not later)."""
    state = _State(location, device, loader)
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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("clipsearch").joinpath("static", "index.html").read_text(encoding="utf-8")

    @app.get("/api/status", dependencies=guard)
    def status() -> dict[str, Any]:
        return state.store.status()

    @app.get("/api/search", dependencies=guard)
    def search(
        q: str = Query(..., min_length=1, max_length=1000),
        k: int = Query(24, ge=1, le=500),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
    ) -> list[dict[str, Any]]:
        vec = state.text_vector(q)
        with state.lock:
            hits = state.searcher.search_vector(vec, k, filters=_filters(category, not_category))
        return [_result(r) for r in hits]

    @app.post("/api/similar", dependencies=guard)
    async def similar_upload(
        request: Request,
        k: int = Query(24, ge=1, le=500),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
    ) -> list[dict[str, Any]]:
        """The request body is the image file itself (any format clipsearch indexes)."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_upload_bytes:
            raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_upload_bytes:
                raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes")

        def run() -> list[SearchResult]:
            enc = state.encoder()
            image = load_image(io.BytesIO(bytes(body)), enc.info.image_size, UPLOAD_MAX_MEGAPIXELS, name="upload")
            vec = enc.encode_images(enc.preprocess(image)[None])[0]
            with state.lock:
                return state.searcher.search_vector(vec, k, filters=_filters(category, not_category))

        return [_result(r) for r in await run_in_threadpool(run)]

    @app.get("/api/items/{item_id}", dependencies=guard)
    def item(item_id: int) -> dict[str, Any]:
        row = state.row(item_id)
        labels = Categories(state.store).labels_for([item_id]).get(item_id, {})
        data = {"id": row.id, "path": row.path, "width": row.width, "height": row.height, "size": row.size}
        if row.page:
            data["page"] = row.page
        return {**data, "categories": labels, "thumbnail": f"/api/items/{row.id}/thumbnail",
                "file": f"/api/items/{row.id}/file"}  # fmt: skip

    @app.get("/api/items/{item_id}/similar", dependencies=guard)
    def item_similar(
        item_id: int,
        k: int = Query(24, ge=1, le=500),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
    ) -> list[dict[str, Any]]:
        state.row(item_id)
        vec = state.store.catalog.vectors([item_id], state.store.model.dim)[0]
        with state.lock:
            hits = state.searcher.search_vector(vec, k, exclude_ids=[item_id], filters=_filters(category, not_category))
        return [_result(r) for r in hits]

    @app.get("/api/items/{item_id}/thumbnail", dependencies=guard)
    def thumbnail(item_id: int) -> Response:
        data = state.thumbnail(state.row(item_id))
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/api/items/{item_id}/file", dependencies=guard)
    def file(item_id: int) -> FileResponse:
        row = state.row(item_id)
        path = state.current_file(row)
        media = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=os.path.basename(path), content_disposition_type="inline")

    @app.get("/api/categories", dependencies=guard)
    def categories() -> list[dict[str, Any]]:
        return Categories(state.store).describe()

    @app.get("/api/duplicates", dependencies=guard)
    def duplicates() -> list[dict[str, Any]]:
        with state.lock:
            groups = find_duplicates(state.store)
        out = []
        for g in groups:
            data = g.to_dict()
            for m in data["items"]:
                m["thumbnail"] = f"/api/items/{m['id']}/thumbnail"
            out.append(data)
        return out

    return app


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
