"""Whole documents: a PDF whose pages are, in order, copies of another PDF's pages is that document
saved again (re-saved, re-scanned, an image-only copy), reported as one group of files instead of
one group per page.

A PDF that holds only some of another's pages is not the same document: its pages still pair up
as pages. Pages are compared by their number: page 3 of one with page 3 of the other.
"""

from __future__ import annotations

import dataclasses

from ..config import DUPLICATE_TIERS
from ..store.catalog import ItemRow

Pair = tuple[int, int]
Pairs = dict[Pair, tuple[str, float]]


def _pdf_pages(rows: dict[int, ItemRow]) -> dict[str, dict[int, int]]:
    """Every PDF's indexed pages: path -> page number -> item id (video frames have a time)."""
    pages: dict[str, dict[int, int]] = {}
    for r in rows.values():
        if r.page and r.time is None:
            pages.setdefault(r.path, {})[r.page] = r.id
    return pages


def whole_documents(rows: dict[int, ItemRow], pairs: Pairs) -> tuple[Pairs, dict[int, ItemRow], set[Pair]]:
    """Document pairs (each PDF stands as its first page's id, its row with page 0: the file), the
    rows they stand on, and the page pairs they take the place of."""
    pages = _pdf_pages(rows)
    between: dict[tuple[str, str], dict[int, tuple[Pair, str, float]]] = {}
    for pair, (tier, value) in pairs.items():
        ra, rb = rows[pair[0]], rows[pair[1]]
        if ra.path == rb.path or ra.path not in pages or rb.path not in pages or ra.page != rb.page:
            continue
        key = (ra.path, rb.path) if ra.path < rb.path else (rb.path, ra.path)
        between.setdefault(key, {})[ra.page] = (pair, tier, value)
    documents: Pairs = {}
    doc_rows: dict[int, ItemRow] = {}
    consumed: set[Pair] = set()
    for (pa, pb), matched in between.items():
        if len(pages[pa]) != len(pages[pb]) or set(matched) != set(pages[pa]):
            continue  # a partial copy, or pages that do not line up: pages stay pages
        first_a, first_b = pages[pa][min(pages[pa])], pages[pb][min(pages[pb])]
        for item in (first_a, first_b):
            doc_rows[item] = dataclasses.replace(rows[item], page=0)
        weakest = max((t for _, t, _ in matched.values()), key=DUPLICATE_TIERS.index)
        farthest = max(v for _, t, v in matched.values() if t == weakest)
        key = (first_a, first_b) if first_a < first_b else (first_b, first_a)
        documents[key] = (weakest, farthest)
        consumed |= {pair for pair, _, _ in matched.values()}
    linked = {(rows[a].path, rows[b].path) for a, b in consumed}
    return documents, doc_rows, _alone(consumed, pairs, rows, linked | {(b, a) for a, b in linked})


def _alone(consumed: set[Pair], pairs: Pairs, rows: dict[int, ItemRow], linked: set[tuple[str, str]]) -> set[Pair]:
    """The consumed page pairs whose pages pair with no file outside their documents: a page that
    is also a copy of a third file's page (a partial copy of the document) keeps its pairs, so all
    three meet as pages."""
    outside: set[int] = set()
    for a, b in pairs:
        if rows[a].path != rows[b].path and (rows[a].path, rows[b].path) not in linked:
            outside |= {a, b}
    return {(a, b) for a, b in consumed if a not in outside and b not in outside}
