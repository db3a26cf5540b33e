"""The MCP server (``clipsearch mcp``): one index, offered to an AI assistant over stdio with the
official ``mcp`` SDK, standing on :class:`~clipsearch.front.index.Index` like the CLI and the web server.

Tools: ``search`` (meaning, text in the pictures and filters, in one call), ``similar`` (an indexed
item, or a picture sent as base64: the server never opens a path for a client), ``status`` and
``duplicates``; ``index`` (add folders) only under the folders named with ``--allow-index DIR``: an
assistant reads a person's library, it does not change it unless told where it may.
Results are paths with scores (JSON), followed by a small thumbnail of each of the first few.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

from ..config import UPLOAD_MAX_BYTES, UPLOAD_MAX_MEGAPIXELS, IndexLocation
from ..errors import ClipsearchError, UsageError
from ..front import index as front

#: Results drawn as thumbnails after the JSON (each ~5-15 KB of WebP); the rest are paths only.
THUMBNAILS = 4
INSTRUCTIONS = (
    "Search a person's own pictures, scans, drawings and PDFs: by meaning (a description in any "
    "language the model reads), by the text inside them (`text`), and by filters (category, date, "
    "folder, place, camera, file type). Each result says what matched (`match`: meaning, text, both, "
    "region, tile, filter) and the scale of its score (`score_kind`: cosine -1..1; bm25, text relevance "
    "with no upper bound; rrf, rank fusion of meaning and text; none): higher is closer, and scores of "
    "two kinds do not compare."
)


def create_server(location: IndexLocation, *, allow_index: tuple[str, ...] = (), device: str | None = None,
                  loader: Any = None, thumbnails: int = THUMBNAILS) -> Any:  # fmt: skip
    """The ``MCPServer`` for the index at ``location`` (opened now: a missing index fails here);
    ``allow_index``: the folders under which the ``index`` tool may add pictures (none: no tool)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.utilities.types import Image

    ix = front.Index.open(location.name, location.home, device=device, loader=loader)
    server = MCPServer("clipsearch", instructions=INSTRUCTIONS)

    def answer(call: Any) -> Any:
        try:
            return call()
        except ClipsearchError as err:  # one clear line for the assistant, never a traceback
            raise ToolError(getattr(err, "web", None) or str(err)) from err

    def with_thumbnails(results: list[Any]) -> list[Any]:
        return _with_thumbnails(ix, results, thumbnails, Image)

    def search(query: str | None = None, text: str | None = None, k: int = 10, offset: int = 0, relevant: bool = False,
               sort: str = "score", documents: bool = False, **filters: Any) -> list[Any]:  # fmt: skip
        """Find pictures by a description (`query`), by words printed in them (`text`, e.g. a part
        code or a sign), and by filters (category, not_category, after, before, under, place,
        camera, type, cluster); dates are YYYY, YYYY-MM or YYYY-MM-DD, `under` takes absolute
        folders. `query` is read as the search box reads it: `text:WORDS`, `after:2023`,
        `type:pdf`, `-WORD` (leave out a category, or take WORD's meaning away) work inside it.
        `relevant` keeps only what the model calls a match; `sort` 'date' orders by when they were
        taken; `documents` lists each PDF once (best_page, pages_matched of pages); `offset`: the
        previous answer's `next_offset`. Returns JSON (`results`: path, score, page, snippet;
        `read_as`: how the query was read; `empty`: why nothing was found), thumbnails of the first few."""

        def run() -> list[Any]:
            found = ix.ask(query or "", text=text, filters=_filters(filters), k=min(k, 100), offset=offset,
                           relevant=relevant, sort=sort, documents=documents, files=False)  # fmt: skip
            shown = with_thumbnails(found.results)
            return [json.dumps(found.to_dict(json.loads(shown[0]))), *shown[1:]]

        return answer(run)

    search.__signature__ = _with_filters(search)  # type: ignore[attr-defined]
    server.tool(structured_output=False)(search)

    @server.tool(structured_output=False)
    def similar(
        item: int | None = None, path: str | None = None, image: str | None = None, page: int | None = None,
        k: int = 10, category: list[str] | None = None, box: str | None = None, documents: bool | None = None,
    ) -> list[Any]:  # fmt: skip
        """Pictures that look like one picture, given as exactly one of: `item` (an id from the
        results), `path` (a path exactly as the results give it, `doc.pdf#page=3` too: only indexed
        files), or `image` (a picture or a PDF, base64, up to 20 MB; `page` of a PDF). `box`
        "X0,Y0,X1,Y1" (fractions of its width and height) compares only that part of it.
        `documents`: each document (PDF) once (best_page, pages_matched of pages); an indexed PDF
        named with no page is compared by all its pages. JSON results, thumbnails of the first few."""
        filters, k = front.Filters(include=tuple(category or ())), min(k, 100)
        return answer(lambda: with_thumbnails(_similar(ix, item, path, image, page, k, filters, box, documents)))

    @server.tool(structured_output=False)
    def library_map() -> str:
        """The library as a map: its groups of similar pictures, each named, with its size and one
        representative file (JSON). Search one group with `search`'s results in mind."""
        from ..front.library_map import as_dict

        return answer(lambda: json.dumps(as_dict(ix, ix.map(), items=False)))

    @server.tool(structured_output=False)
    def status() -> str:
        """What the index holds: items, files, model, text read, size on disk."""
        return answer(lambda: json.dumps(ix.status()))

    @server.tool(structured_output=False)
    def duplicates(limit: int = 50) -> str:
        """Groups of the same picture saved several times (exact copies, resized or re-encoded
        versions, raw+JPEG pairs), the copy to keep first. Reports only: nothing is moved."""
        return answer(lambda: json.dumps([g.to_dict() for g in ix.duplicates.find()[: _at_least_one(limit)]]))

    if allow_index:
        _offer_index(server, ix, allow_index, answer)
    return server


def _offer_index(server: Any, ix: Any, roots: tuple[str, ...], answer: Any) -> None:
    """The ``index`` tool, under the folders the user named (``--allow-index DIR``)."""

    @server.tool(structured_output=False)
    def index(paths: list[str]) -> str:
        """Add the pictures under these folders (absolute paths, under the folders this server
        was allowed to index) to the index, or bring them up to date; returns what was added,
        updated and skipped."""
        return answer(lambda: json.dumps(ix.add(_allowed(paths, roots)).to_dict()))


def _with_thumbnails(ix: Any, results: list[Any], thumbnails: int, image: Any) -> list[Any]:
    """The results' JSON, then a thumbnail of each of the first ``thumbnails``."""
    out: list[Any] = [json.dumps([_result(r) for r in results])]
    for r in results[:thumbnails]:
        try:
            out.append(image(data=ix.files.thumbnail(ix.files.item(r.id)), format="webp"))
        except ClipsearchError:  # a file gone since it was indexed: its path and score still count
            continue
    return out


def _similar(ix: Any, item: int | None, path: str | None, image: str | None, page: int | None, k: int,
             filters: Any, box: str | None, documents: bool | None) -> list[Any]:  # fmt: skip
    """A similar search by an indexed item (its id or its path, never a path opened for a client)
    or by an uploaded picture, decoded under the upload limits."""
    if sum(x is not None for x in (item, path, image)) != 1:
        raise UsageError("give exactly one of item (an id from the results), path (as the results give it) or image")
    if image is not None:
        data = _decoded(image)
        whole = documents if documents is not None else (page is None and data[:5] == b"%PDF-")
        return ix.similar_to_bytes(data, page=page, k=k, filters=filters, box=box, documents=whole,
                                   max_megapixels=UPLOAD_MAX_MEGAPIXELS)  # fmt: skip
    if item is not None:
        if not 1 <= item < 2**63:
            raise UsageError(f"no item {item}")
        row = ix.files.item(item)
        whole = bool(documents)
    else:
        row = ix.files.named(path, page=page)
        named_page = page is not None or "#page=" in path
        whole = documents if documents is not None else (row.page is not None and not named_page and box is None)
    return ix.similar_to_item(row.id, k=k, filters=filters, box=box, documents=whole)


def _decoded(image: str) -> bytes:
    """An uploaded picture's bytes, from base64, no larger than an HTTP upload may be."""
    import base64
    import binascii

    if len(image) > UPLOAD_MAX_BYTES * 4 // 3 + 4:
        raise UsageError(f"image larger than {UPLOAD_MAX_BYTES} bytes")
    try:
        return base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError) as err:
        raise UsageError(f"image is not base64: {err}") from err


def _allowed(paths: list[str], roots: tuple[str, ...]) -> list[str]:
    """Folders to index: absolute (relative to the server's working folder means nothing to a
    client) and under a folder the user named when starting the server (``--allow-index DIR``)."""
    relative = [p for p in paths if not os.path.isabs(os.path.expanduser(p))]
    if relative:
        raise UsageError(f"index takes absolute folder paths, not {relative[0]!r}")
    allowed = [os.path.realpath(os.path.expanduser(r)) for r in roots]
    for p in paths:
        real = os.path.realpath(os.path.expanduser(p))
        if not any(os.path.commonpath([real, root]) == root for root in allowed):
            raise UsageError(f"{p} is not under a folder this server may index ({', '.join(roots)})")
    return paths


def _at_least_one(limit: int) -> int:
    """A count of groups: -1 would have cut the list at its end."""
    if limit < 1:
        raise UsageError(f"limit must be 1 or more, not {limit}")
    return limit


def _with_filters(tool: Any) -> inspect.Signature:
    """``tool``'s signature with one argument per declared filter (``Filters.fields``) in place of
    its ``**filters``: a filter added there is an argument of the tool's schema here."""
    own = [p for p in inspect.signature(tool, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
    added = []
    for spec in front.Filters.fields():
        kind = list[str] if spec.many else int if spec.kind is int else str
        added.append(inspect.Parameter(spec.key, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind | None))
    return inspect.Signature([*own, *added], return_annotation=list[Any])


def _filters(values: dict[str, Any]) -> Any:
    """The tool's filter arguments as ``Filters`` (``Index.ask`` holds a server's folders to be absolute)."""
    return front.Filters.from_keys({k: v for k, v in values.items() if v is not None})


def _result(r: Any) -> dict[str, Any]:
    return r.to_dict()  # the JSON of `search --json`: path, page or time, score, categories, snippet
