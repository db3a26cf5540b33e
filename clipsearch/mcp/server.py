"""The MCP server (``clipsearch mcp``): one index, offered to an AI assistant over stdio with the
official ``mcp`` SDK, standing on :class:`~clipsearch.front.index.Index` like the CLI and the web server.

Tools: ``search`` (meaning, text in the pictures and filters, in one call), ``similar`` (a picture
or a PDF page), ``status`` and ``duplicates``; ``index`` (add folders) only when started with
``--allow-index``: an assistant reads a person's library, it does not change it unless told it may.
Results are paths with scores (JSON), followed by a small thumbnail of each of the first few.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..config import IndexLocation
from ..errors import ClipsearchError, UsageError
from ..front import index as front

#: Results drawn as thumbnails after the JSON (each ~5-15 KB of WebP); the rest are paths only.
THUMBNAILS = 4
INSTRUCTIONS = (
    "Search a person's own pictures, scans, drawings and PDFs: by meaning (a description in any "
    "language the model reads), by the text inside them (`text`), and by filters (category, date, "
    "folder, place, camera, file type). Scores are cosines: higher is closer."
)


def create_server(location: IndexLocation, *, allow_index: bool = False, device: str | None = None,
                  loader: Any = None, thumbnails: int = THUMBNAILS) -> Any:  # fmt: skip
    """The ``MCPServer`` for the index at ``location`` (opened now: a missing index fails here)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.utilities.types import Image

    ix = front.Index.open(location.name, location.home, device=device, loader=loader)
    server = MCPServer("clipsearch", instructions=INSTRUCTIONS)

    def answer(call: Any) -> Any:
        try:
            return call()
        except ClipsearchError as err:  # one clear line for the assistant, never a traceback
            raise ToolError(str(err)) from err

    def with_thumbnails(results: list[Any]) -> list[Any]:
        out: list[Any] = [json.dumps([_result(r) for r in results])]
        for r in results[:thumbnails]:
            try:
                out.append(Image(data=ix.thumbnail(ix.item(r.id)), format="webp"))
            except ClipsearchError:  # a file gone since it was indexed: its path and score still count
                continue
        return out

    @server.tool(structured_output=False)
    def search(query: str | None = None, text: str | None = None, category: list[str] | None = None, k: int = 10,
               not_category: list[str] | None = None, after: str | None = None, before: str | None = None,
               under: list[str] | None = None, place: str | None = None, file_type: list[str] | None = None,
               relevant: bool = False, sort: str = "score", documents: bool = False) -> list[Any]:  # fmt: skip
        """Find pictures by a description (`query`), by words printed in them (`text`, e.g. a part
        code or a sign), and by filters; dates are YYYY, YYYY-MM or YYYY-MM-DD, `under` takes
        absolute folders. `relevant` keeps only what the model calls a match; `sort` 'date'
        orders by when they were taken; `documents` lists each PDF once (best_page, pages_matched
        of pages). Returns JSON results (path, score, page, snippet), thumbnails of the first few."""
        filters, k = _filters(category, not_category, after, before, under, place, file_type), min(k, 100)
        return answer(lambda: with_thumbnails(ix.search(query, text=text, filters=filters, k=k, relevant=relevant,
                                                        sort=sort, documents=documents, files=False)))  # fmt: skip

    @server.tool(structured_output=False)
    def similar(
        path: str, page: int | None = None, k: int = 10, category: list[str] | None = None, box: str | None = None,
        documents: bool | None = None,
    ) -> list[Any]:  # fmt: skip
        """Pictures that look like the picture at `path` (a file on this machine; `page` of a PDF);
        `box` "X0,Y0,X1,Y1" (fractions of its width and height) compares only that part of it. A PDF
        with no `page` is compared by all its pages, each document listed once (best_page,
        pages_matched of pages; `documents` false: pages). JSON results, thumbnails of the first few."""
        filters = front.Filters(include=tuple(category or ()))
        return answer(lambda: with_thumbnails(ix.similar(path, page=page, k=min(k, 100), filters=filters, box=box,
                                                         documents=documents)))  # fmt: skip

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
        return answer(lambda: json.dumps([g.to_dict() for g in ix.duplicates()[: _at_least_one(limit)]]))

    if allow_index:

        @server.tool(structured_output=False)
        def index(paths: list[str]) -> str:
            """Add the pictures under these folders (absolute paths) to the index, or bring them up
            to date; returns what was added, updated and skipped."""
            return answer(lambda: json.dumps(ix.add(_absolute(paths)).to_dict()))

    return server


def _absolute(paths: list[str]) -> list[str]:
    """Folders to index, absolute: relative to the server's working folder means nothing to a client."""
    relative = [p for p in paths if not os.path.isabs(os.path.expanduser(p))]
    if relative:
        raise UsageError(f"index takes absolute folder paths, not {relative[0]!r}")
    return paths


def _at_least_one(limit: int) -> int:
    """A count of groups: -1 would have cut the list at its end."""
    if limit < 1:
        raise UsageError(f"limit must be 1 or more, not {limit}")
    return limit


def _filters(
    category: list[str] | None, not_category: list[str] | None, after: str | None, before: str | None,
    under: list[str] | None, place: str | None, file_type: list[str] | None,
) -> Any:  # fmt: skip
    return front.Filters(include=tuple(category or ()), exclude=tuple(not_category or ()), after=after, before=before,
                         under=tuple(under or ()), place=place, types=tuple(file_type or ()))  # fmt: skip


def _result(r: Any) -> dict[str, Any]:
    return r.to_dict()  # the JSON of `search --json`: path, page or time, score, categories, snippet
