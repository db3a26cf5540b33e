"""The HTTP routes, by part: the page and the queries, then the items and what is computed over them.

Each ``add_*`` function registers its routes on the application, closed over the server's state.
"""

from __future__ import annotations

import inspect
import mimetypes
import os
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import UPLOAD_MAX_MEGAPIXELS
from ..front import index as front
from ..front.asking import MAX_OFFSET
from ..front.library_map import as_dict, map_languages
from .state import ServerState, descriptor_path

if TYPE_CHECKING:
    from ..front.index import Filters, SearchResult

#: An item id: a positive 64-bit integer (a larger one is a 422, never an overflow inside SQLite).
ItemId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]
#: A duplicate group's key (``duplicates --json``: ``group``).
GroupKey = Annotated[str, FastApiPath(pattern=r"^[0-9a-f]{1,64}$")]


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


def _script(name: str) -> Response:
    script = resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript")


def _page(ranked: Callable[[int], list[SearchResult]], k: int, offset: int) -> dict[str, Any]:
    """Results ``offset`` to ``offset + k`` of ``ranked(n)`` (the best ``n``), and where the next
    page starts (null: no more; after a full page the next may be empty)."""
    page, more = front.paged(ranked(offset + k), k, offset)
    return {"results": [_result(r) for r in page], "offset": offset, "next_offset": more}


def _filter_parameters() -> Callable[..., Filters]:
    """A FastAPI dependency taking every declared filter as a query parameter (``Filters.fields``:
    a filter added there is a parameter here) and giving the ``Filters``."""

    def filters(**values: Any) -> Filters:
        return front.Filters.from_keys(values).require_absolute()

    params = []
    for spec in front.Filters.fields():
        if spec.many:
            annotation, default = list[str], Query([], description=spec.help)
        elif spec.kind is int:
            annotation, default = int | None, Query(None, ge=0, le=2**31, description=spec.help)
        else:
            annotation, default = str | None, Query(None, max_length=500, description=spec.help)
        params.append(inspect.Parameter(spec.key, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=annotation))  # fmt: skip
    filters.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return filters


#: ``filters: Filters = Depends(FILTERS)``: the declared filters as query parameters
FILTERS = _filter_parameters()


def add_query_routes(app: FastAPI, state: ServerState, guard: list[Any], max_upload_bytes: int) -> None:
    """``/`` (the page), ``/api/status``, ``/api/search`` and ``/api/similar`` (an uploaded image)."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")

    @app.get("/map.js", include_in_schema=False)
    def map_script() -> Response:
        return _script("map.js")

    @app.get("/page.js", include_in_schema=False)
    def page_script() -> Response:
        return _script("page.js")

    @app.get("/api/status", dependencies=guard)
    def status() -> dict[str, Any]:
        return state.index.status()

    @app.get("/api/activity", dependencies=guard)
    def activity() -> dict[str, Any]:
        """What the page polls while it is open: items indexed, with text, waiting for their text
        (``serve --watch`` adds and reads as files come), cheap to ask every few seconds."""
        return {**state.index.status(brief=True), "changes": state.changes_to is not None}

    @app.get("/api/search", dependencies=guard)
    def search(
        q: str = Query("", max_length=1000),
        k: int = Query(24, ge=1, le=500),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="results to skip: the last answer's next_offset"),
        given: Filters = Depends(FILTERS),
        relevant: bool = Query(False),
        sort: str = Query("score", pattern="^(score|date)$"),
        explain: bool = Query(False, description="meaning hits carry the cosine they need to be a match"),
        documents: bool = Query(False, description="each document (PDF) once: its best page, pages_matched of pages"),
    ) -> dict[str, Any]:
        """``q`` is the search box's line (``query/syntax.py``), read as the CLI reads it: words,
        ``text:``, filters, ``-NAME``; it may be empty with a filter (a map's group: its newest items).
        The answer says how the line was read (``read_as``), where the next page starts
        (``next_offset``, null at the end) and, when nothing was found, why (``empty``)."""
        answer = state.index.ask(q, filters=given, k=k, offset=offset, sort=sort, relevant=relevant, explain=explain,
                        documents=documents, files=False)  # fmt: skip
        return answer.to_dict([_result(r) for r in answer.results])

    @app.post("/api/similar", dependencies=guard)
    async def similar_upload(
        request: Request,
        k: int = Query(24, ge=1, le=500),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="results to skip: the last answer's next_offset"),
        page: int | None = Query(None, ge=1, le=100_000, description="a PDF's page to search by (default 1)"),
        filters: Filters = Depends(FILTERS),
        box: str | None = Query(None, description="X0,Y0,X1,Y1: search by this part only (fractions)"),
        documents: bool = Query(False, description="each document (PDF) once: its best page, pages_matched of pages"),
    ) -> dict[str, Any]:
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

        def run(n: int) -> list[SearchResult]:
            return state.index.similar_to_bytes(bytes(body), page=page, k=n, filters=filters,
                                                max_megapixels=UPLOAD_MAX_MEGAPIXELS, box=box,
                                                documents=documents)  # fmt: skip

        return await run_in_threadpool(_page, run, k, offset)


def add_item_routes(app: FastAPI, state: ServerState, guard: list[Any]) -> None:
    """One item, its neighbours, thumbnail and file; the categories; the duplicate groups."""

    @app.get("/api/items/{item_id}", dependencies=guard)
    def item(item_id: ItemId) -> dict[str, Any]:
        """The item's facts (name, folder, type, bytes, size in pixels, when and where taken, the
        camera, the text read from it), its categories, and where its picture and file are."""
        row = state.index.files.item(item_id)
        labels = state.index.categories.labels_for([item_id]).get(item_id, {})
        data = {"id": row.id, "path": row.path, "size": row.size, **state.index.files.facts(row)}
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
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="results to skip: the last answer's next_offset"),
        filters: Filters = Depends(FILTERS),
        box: str | None = Query(None, description="X0,Y0,X1,Y1: like this part of the item only (fractions)"),
        documents: bool = Query(False, description="documents like the item's whole document, each once"),
    ) -> dict[str, Any]:

        def ranked(n: int) -> list[SearchResult]:
            return state.index.similar_to_item(item_id, k=n, filters=filters, box=box, follow_links=state.follow_links,
                                               documents=documents)  # fmt: skip

        return _page(ranked, k, offset)

    @app.get("/api/items/{item_id}/thumbnail", dependencies=guard, response_class=Response,
             responses={200: {"description": "a WebP thumbnail", "content": {"image/webp": {}}}})  # fmt: skip
    def thumbnail(item_id: ItemId) -> Response:
        data = state.index.files.thumbnail(state.index.files.item(item_id), follow_links=state.follow_links)
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/api/items/{item_id}/view", dependencies=guard, response_class=Response,
             responses={200: {"description": "drawn for a viewer", "content": {"image/webp": {}}}})  # fmt: skip
    def view(item_id: ItemId, size: int = Query(1600, ge=64, le=4096, description="longest side, px")) -> Response:
        """The picture at a screen's size: a PDF's page rendered for it, a photo scaled down."""
        data = state.index.files.view(state.index.files.item(item_id), size, follow_links=state.follow_links)
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/items/{item_id}/file", dependencies=guard, response_class=FileResponse,
             responses={200: {"description": "the file as indexed (range requests work)", "content": {
                 "image/*": {}, "application/pdf": {}, "video/*": {}, "application/octet-stream": {}}}})  # fmt: skip
    def file(item_id: ItemId) -> FileResponse:
        row = state.index.files.item(item_id)
        fd, st = state.index.files.open(row, follow_links=state.follow_links)
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
        groups = state.index.duplicates.find()
        out = []
        for g in groups:
            data = g.to_dict()
            for m in data["items"]:
                m["thumbnail"] = f"/api/items/{m['id']}/thumbnail"
            out.append(data)
        return out


def add_change_routes(app: FastAPI, state: ServerState, guard: list[Any]) -> None:
    """What the page may change, when the server was started to allow it (``serve --allow-changes
    DIR``): dismiss a duplicate group, move its copies into DIR as ``duplicates --move-to`` does
    (the plan first, each move logged), undo a move by its log. Read-only servers answer 403."""

    def destination() -> str:
        if state.changes_to is None:
            raise HTTPException(403, "this server changes nothing: start it with serve --allow-changes DIR")
        return state.changes_to

    def group(key: str) -> Any:
        found = [g for g in state.index.duplicates.find() if g.key == key]
        if not found:
            raise HTTPException(404, f"no duplicate group {key} now")
        return found[0]

    @app.post("/api/duplicates/{key}/dismiss", dependencies=guard)
    def dismiss(key: GroupKey) -> dict[str, Any]:
        """Remember that the group is not duplicates: it is not reported again."""
        destination()
        state.index.duplicates.dismiss(group(key))
        return {"dismissed": key}

    @app.get("/api/duplicates/{key}/plan", dependencies=guard)
    def plan(key: GroupKey) -> dict[str, Any]:
        """What a move would do: each member's target in the server's folder, or why it stays."""
        return state.index.duplicates.plan([group(key)], destination()).to_dict()

    @app.post("/api/duplicates/{key}/move", dependencies=guard)
    def move(key: GroupKey) -> dict[str, Any]:
        """Move the group's copies (all but the keeper, as the plan says); answers the log to undo with."""
        planned = state.index.duplicates.plan([group(key)], destination())
        if not planned.moving:
            raise HTTPException(409, "nothing in this group moves (see its plan)")
        report = state.index.duplicates.move(planned)
        return {**planned.to_dict(), **report.to_dict(), "log": os.path.basename(report.log)}

    @app.get("/api/moves", dependencies=guard)
    def moves() -> list[dict[str, Any]]:
        """The moves made into the server's folder that can still be undone, newest first."""
        return state.index.duplicates.moves_in(destination())

    @app.post("/api/moves/{log}/undo", dependencies=guard)
    def undo(log: Annotated[str, FastApiPath(pattern=r"^[\w.-]+$", max_length=200)]) -> dict[str, Any]:
        """Put back what a move of this server's did (its log, by name) and index the files again."""
        path = os.path.join(destination(), log)
        if not os.path.isfile(path):
            raise HTTPException(404, f"no move log {log} in the server's folder")
        restored, problems = state.index.duplicates.undo(path)
        return {"restored": restored, "problems": problems}
