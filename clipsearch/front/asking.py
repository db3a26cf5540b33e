"""A search line, asked the same way by every front end: the CLI, the page, the HTTP API and the
MCP server read it with one parser (``query/syntax.py``) and rank it with one call, so a line gives
the same results wherever it is typed. The answer says how the line was read, where the next page
of results starts, and, when nothing was found, why and what to try.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..query.filters import Filters
from ..query.syntax import ParsedQuery, parse

if TYPE_CHECKING:
    from ..query.search import SearchResult

#: Results one answer may skip: paging past this many asks the engine for more than it ranks well
#: (an approximate index's top is tuned for the first hundreds).
MAX_OFFSET = 10_000


@dataclass
class Answer:
    """One page of results, how the line was read, and where the next page starts (None: none)."""

    results: list[SearchResult]
    read_as: dict[str, Any]
    offset: int = 0
    next_offset: int | None = None
    empty: str | None = None  # why nothing was found, and what to try

    def to_dict(self, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """JSON-ready; ``results``: the results as the front end shows them (default: as stored)."""
        shown = results if results is not None else [r.to_dict() for r in self.results]
        data: dict[str, Any] = {"results": shown, "read_as": self.read_as, "offset": self.offset,
                                "next_offset": self.next_offset}  # fmt: skip
        if self.empty:
            data["empty"] = self.empty
        return data


def read_line(line: str, categories: frozenset[str], given: Filters | None = None) -> ParsedQuery:
    """``line`` read by the search box's syntax, its filters joined with ``given`` (flags,
    parameters, a map's group): both apply."""
    parsed = parse(line or "", categories)
    return parsed if given is None else replace(parsed, filters=given.joined(parsed.filters))


#: Filters named as the search line and the HTTP parameters name them (``type:``, ``category:``).
_KEYS = {"include": "category", "exclude": "not_category", "types": "type"}


def described(parsed: ParsedQuery) -> dict[str, Any]:
    """How a line was read: the description ranked by meaning, the words looked for in the
    pictures' text, what was subtracted from the meaning, and the filters (only those given)."""
    given = {_KEYS.get(k, k): v for k, v in asdict(parsed.filters).items() if v not in (None, ())}
    filters = {k: list(v) if isinstance(v, tuple) else v for k, v in given.items()}
    return {"query": parsed.query, "text": parsed.words, "subtract": list(parsed.subtract), "filters": filters}


def ask(
    ix: Any, line: str, *, filters: Filters | None = None, text: str | None = None, k: int = 24, offset: int = 0,
    sort: str = "score", relevant: bool = False, explain: bool = False, documents: bool = False,
    files: bool = False, min_score: float | None = None, include_self: bool = False, add: Sequence[str] = (),
    sub: Sequence[str] = (),
) -> Answer:  # fmt: skip
    """Results ``offset`` to ``offset + k`` of ``line`` in ``ix`` (an open ``Index``). ``text``:
    words to find besides the line's own ``text:``; ``files``: a line naming a picture on this
    machine searches by it (the CLI), else it is words and its folders must be absolute (servers);
    ``add``/``sub``: terms added to or taken from the meaning besides the line's ``-WORD``s (see
    :meth:`Index.search`)."""
    offset = max(0, min(int(offset), MAX_OFFSET))
    if files and line and os.path.isfile(line):  # a picture's path, spaces and all: search by it
        parsed = ParsedQuery(line, None, filters or Filters())
    else:
        parsed = read_line(line, ix.categories.names(), filters)
        if not files:
            parsed.filters.require_absolute()
    words = " ".join(w for w in (parsed.words, text) if w) or None
    parsed = replace(parsed, words=words)
    hits = ix.search(parsed.query, text=parsed.words, filters=parsed.filters, k=offset + k, min_score=min_score,
                     add=add, sub=(*sub, *parsed.subtract), sort=sort, relevant=relevant, explain=explain,
                     documents=documents, files=files, include_self=include_self)  # fmt: skip
    page, more = paged(hits, k, offset)
    answer = Answer(page, described(parsed), offset, more)
    if not hits:
        answer.empty = why_empty(ix, parsed, relevant=relevant, min_score=min_score)
    elif not page:
        answer.empty = f"no results past the first {len(hits)}: this answer holds {len(hits)}"
    return answer


def paged(hits: list[Any], k: int, offset: int) -> tuple[list[Any], int | None]:
    """Results ``offset`` to ``offset + k`` of the best ``offset + k`` (``hits``: asked for exactly
    that many, since a document's pages_matched counts against the last one), and where the next
    page starts: None when these were all there are (after a full page the next may be empty)."""
    return hits[offset : offset + k], offset + k if len(hits) >= offset + k else None


def why_empty(ix: Any, parsed: ParsedQuery, *, relevant: bool, min_score: float | None) -> str:
    """One line: what left the answer empty, and what to try."""
    catalog = ix.store.catalog
    total = catalog.count()
    if total == 0:
        return "the index holds no pictures yet: index a folder first (clipsearch index FOLDER)"
    if parsed.filters.active:
        searcher = ix.searcher
        allowed = len(catalog.ids_where(searcher.clause(parsed.filters)))
        if allowed == 0:
            shown = ", ".join(f"{k}: {v}" for k, v in described(parsed)["filters"].items())
            return f"no item passes the filters ({shown}) of the {total} indexed: loosen or remove them"
    if parsed.words:
        read = catalog.texts_count()
        if read == 0:
            return (f"no text has been read from the {total} items: index with text reading on "
                    "(clipsearch index FOLDER --ocr auto) to find words in pictures")  # fmt: skip
        return f"no text read from the pictures holds “{parsed.words}” (text was read from {read} of {total} items)"
    if min_score is not None:
        return f"nothing scores {min_score} or more: lower the minimum score" + (
            " (and nothing may be a match by the model's own rule: search without 'relevant')" if relevant else ""
        )
    if relevant:
        return "nothing is a match by the model's own rule: search without 'relevant' to see the nearest pictures"
    return "nothing found: try other words or fewer filters"
