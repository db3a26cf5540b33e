"""The HTTP routes, by part: the page and the queries, then the items and what is computed over them.

Each ``add_*`` function registers its routes on the application, closed over the server's state.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import UPLOAD_MAX_MEGAPIXELS
from ..errors import UsageError
from ..front import index as front
from ..front.library_map import as_dict, map_languages
from .state import ServerState, descriptor_path

if TYPE_CHECKING:
    from ..front.index import Filters, SearchResult

#: An item id: a positive 64-bit integer (a larger one is a 422, never an overflow inside SQLite).
ItemId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]


class _OpenedFile(FileResponse):
    """A file served from the descriptor the server opened and checked (``state.open_file``), read
    again through ``/proc/self/fd/N`` so Starlette's range requests still work, and closed after."""

    def __init__(self, fd: int, st: os.stat_result, media: str, filename: str) -> None:
        self._fd = fd
        super().__init__(descriptor_path(fd), stat_result=st, media_type=media, filename=filename,
                         content_disposition_type="inline")  # fmt: skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            os.close(self._fd)


def _result(r: SearchResult) -> dict[str, Any]:
    data = r.to_dict()
    data["thumbnail"] = f"/api/items/{r.id}/thumbnail"
    data["file"] = f"/api/items/{r.id}/file"
    return data


def _filters(category: list[str], not_category: list[str]) -> Filters:
    return front.Filters(tuple(category), tuple(not_category))


def add_query_routes(app: FastAPI, state: ServerState, guard: list[Any], max_upload_bytes: int) -> None:
    """``/`` (the page), ``/api/status``, ``/api/search`` and ``/api/similar`` (an uploaded image)."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")

    @app.get("/map.js", include_in_schema=False)
    def map_script() -> Response:
        script = resources.files(__package__).joinpath("static", "map.js").read_text(encoding="utf-8")
        return Response(script, media_type="text/javascript")

    @app.get("/api/status", dependencies=guard)
    def status() -> dict[str, Any]:
        return state.index.status()

    @app.get("/api/search", dependencies=guard)
    def search(
        q: str = Query("", max_length=1000),
        k: int = Query(24, ge=1, le=500),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
        relevant: bool = Query(False),
        sort: str = Query("score", pattern="^(score|date)$"),
        cluster: int | None = Query(None, ge=0, description="only items of this group of the map"),
        explain: bool = Query(False, description="meaning hits carry the cosine they need to be a match"),
        documents: bool = Query(False, description="each document (PDF) once: its best page, pages_matched of pages"),
    ) -> list[dict[str, Any]]:
        """``q`` is the search box's line (``query/syntax.py``): words, ``text:``, filters, ``-NAME``;
        it may be empty with a filter (a map's group: its newest items)."""
        ix = state.index
        parsed = front.parse_line(q, ix.categories.names())
        relative = [u for u in parsed.filters.under if not os.path.isabs(os.path.expanduser(u))]
        if relative:  # relative to what? The server's working folder means nothing to a client
            raise UsageError(f"under: takes an absolute folder path, not {relative[0]!r}")
        filters = replace(
            parsed.filters,
            include=parsed.filters.include + tuple(category),
            exclude=parsed.filters.exclude + tuple(not_category),
            cluster=cluster,
        )
        hits = ix.search(parsed.query, text=parsed.words, k=k, sub=parsed.subtract, filters=filters, sort=sort,
                         relevant=relevant, explain=explain, documents=documents, files=False)  # fmt: skip
        return [_result(r) for r in hits]

    @app.post("/api/similar", dependencies=guard)
    async def similar_upload(
        request: Request,
        k: int = Query(24, ge=1, le=500),
        page: int | None = Query(None, ge=1, le=100_000, description="a PDF's page to search by (default 1)"),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
        box: str | None = Query(None, description="X0,Y0,X1,Y1: search by this part only (fractions)"),
        documents: bool = Query(False, description="each document (PDF) once: its best page, pages_matched of pages"),
    ) -> list[dict[str, Any]]:
        """The request body is the image file itself (any picture format clipsearch indexes), or a
        PDF, whose ``page`` (default 1) is the query; ``box``: only that part of it. ``documents``:
        each document once; a PDF sent with no ``page`` is then compared by all its pages."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_upload_bytes:
            raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_upload_bytes:
                raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes")

        def run() -> list[SearchResult]:
            return state.index.similar_to_bytes(bytes(body), page=page, k=k, filters=_filters(category, not_category),
                                                max_megapixels=UPLOAD_MAX_MEGAPIXELS, box=box,
                                                documents=documents)  # fmt: skip

        return [_result(r) for r in await run_in_threadpool(run)]


def add_item_routes(app: FastAPI, state: ServerState, guard: list[Any]) -> None:
    """One item, its neighbours, thumbnail and file; the categories; the duplicate groups."""

    @app.get("/api/items/{item_id}", dependencies=guard)
    def item(item_id: ItemId) -> dict[str, Any]:
        row = state.index.item(item_id)
        labels = state.index.categories.labels_for([item_id]).get(item_id, {})
        data = {"id": row.id, "path": row.path, "width": row.width, "height": row.height, "size": row.size}
        if row.time is not None:
            data["time"] = row.time
        elif row.page:
            data["page"] = row.page
        return {**data, "categories": labels, "thumbnail": f"/api/items/{row.id}/thumbnail",
                "file": f"/api/items/{row.id}/file"}  # fmt: skip

    @app.get("/api/items/{item_id}/similar", dependencies=guard)
    def item_similar(
        item_id: ItemId,
        k: int = Query(24, ge=1, le=500),
        category: list[str] = Query([]),
        not_category: list[str] = Query([]),
        box: str | None = Query(None, description="X0,Y0,X1,Y1: like this part of the item only (fractions)"),
        documents: bool = Query(False, description="documents like the item's whole document, each once"),
    ) -> list[dict[str, Any]]:
        filters = _filters(category, not_category)
        hits = state.index.similar_to_item(item_id, k=k, filters=filters, box=box, follow_links=state.follow_links,
                                           documents=documents)  # fmt: skip
        return [_result(r) for r in hits]

    @app.get("/api/items/{item_id}/thumbnail", dependencies=guard, response_class=Response,
             responses={200: {"description": "a WebP thumbnail", "content": {"image/webp": {}}}})  # fmt: skip
    def thumbnail(item_id: ItemId) -> Response:
        data = state.index.thumbnail(state.index.item(item_id), follow_links=state.follow_links)
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/api/items/{item_id}/file", dependencies=guard, response_class=FileResponse,
             responses={200: {"description": "the file as indexed (range requests work)", "content": {
                 "image/*": {}, "application/pdf": {}, "video/*": {}, "application/octet-stream": {}}}})  # fmt: skip
    def file(item_id: ItemId) -> FileResponse:
        row = state.index.item(item_id)
        fd, st = state.index.open_file(row, follow_links=state.follow_links)
        media = mimetypes.guess_type(row.path)[0] or "application/octet-stream"
        return _OpenedFile(fd, st, media, os.path.basename(row.path))

    @app.get("/api/categories", dependencies=guard)
    def categories() -> list[dict[str, Any]]:
        return state.index.categories.list()

    @app.get("/api/map", dependencies=guard)
    def library_map(
        rebuild: bool = Query(False), items: bool = Query(True),
        lang: str = Query("en", pattern=f"^({'|'.join(map_languages())})$"),
    ) -> dict[str, Any]:  # fmt: skip
        """The map of the library (``clipsearch map --json``): drawn once, then kept up to date;
        groups named in ``lang``."""
        ix = state.index
        return as_dict(ix, ix.map(rebuild=rebuild, language=lang), items=items)

    @app.get("/api/duplicates", dependencies=guard)
    def duplicates() -> list[dict[str, Any]]:
        groups = state.index.duplicates()
        out = []
        for g in groups:
            data = g.to_dict()
            for m in data["items"]:
                m["thumbnail"] = f"/api/items/{m['id']}/thumbnail"
            out.append(data)
        return out
