"""The second look every candidate pair gets before it is called a copy: colour, detail, text.

Candidates come fast and loose from the codes and the vectors (``duplicates.py``); each one is
then held to what a person means by "the same picture saved twice":

- **colour**: the perceptual code is grey, so a red and a blue version of one logo share it; the
  hues of the look's colour grid (``ingest/phash.py``) tell them apart. A grey copy of a colour picture (a
  scan, a print) is still a copy: colour is compared only where both pictures have some.
- **detail**: on a page, a line drawing or a flat graphic most of the picture is paper, and most
  of the code's bits describe it, so such pictures must be closer in code (:data:`SPARSE_DISTANCE`)
  unless their text confirms them.
- **text**: where both carry text (a PDF text layer or OCR), they are the same page only when the
  text agrees (``pagetext.py``); a few differing words make the pair a ``revision``, more make it
  no pair at all. This holds for every tier but exact copies, semantic included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from ..ingest.phash import Look, hamming
from ..store.catalog import ItemRow
from ..store.folder import IndexStore
from ..store.schema import TEXTS
from . import pagetext

#: Share of plain background from which a picture counts as sparse (page, drawing, flat graphic):
#: photos measure under 0.2, corpus drawings 0.85-0.94, text pages and logos on white 0.4 and up.
SPARSE_PAPER = 0.4
#: Most differing code bits for two sparse pictures that their text does not confirm. Copies of
#: sparse pictures (scaled, recompressed, brightened) measured 0-16 bits; different flat shapes of
#: one outline, and pages of one layout, 6-24.
SPARSE_DISTANCE = 16
#: Colour disagreement: the mean difference of hue (degrees, weighted by chroma) between coloured
#: cells of one picture and the nearest-hued coloured cell around the same place in the other.
#: Hue, not the colour itself: a copy made smaller, recompressed or brightened dilutes or
#: strengthens its colours but keeps their hue (the photo set's copies, every edit of ``make eval``:
#: at most 2.3 degrees), while the closest colours a person names apart measured 23 and more (the
#: demo's blue and purple shapes 23-36, orange and yellow 25-32, red and orange 28-41).
HUE_GAP = 12.0
#: A grid cell counts as coloured from this chroma (a*b* length) on.
CHROMA = 8.0

Pair = tuple[int, int]


@dataclass
class Text:
    words: list[str]
    boxes: list[list[Any]]  # OCR lines: [x0, y0, x1, y1, line] in fractions of the picture


def colour_differs(a: Look, b: Look) -> bool:
    """Whether two looks are differently coloured (see :data:`HUE_GAP`). A grey picture is never
    differently coloured from a coloured one: it may be a print or a scan of it."""
    return max(_hue_gap(a.colour, b.colour), _hue_gap(b.colour, a.colour)) > HUE_GAP


def _hue_gap(x: np.ndarray, y: np.ndarray) -> float:
    from numpy.lib.stride_tricks import sliding_window_view

    cx, cy = np.hypot(x[..., 0], x[..., 1]), np.hypot(y[..., 0], y[..., 1])
    if cx.max() < CHROMA or cy.max() < CHROMA:
        return 0.0
    hx, hy = np.arctan2(x[..., 1], x[..., 0]), np.arctan2(y[..., 1], y[..., 0])
    near_c = sliding_window_view(np.pad(cy, 1), (3, 3))  # each cell's 3x3 neighbourhood in y
    near_h = sliding_window_view(np.pad(hy, 1), (3, 3))
    gap = np.abs(np.angle(np.exp(1j * (near_h - hx[..., None, None]))))
    gap = np.where(near_c >= CHROMA, gap, np.inf).min(axis=(2, 3))
    counted = (cx >= CHROMA) & np.isfinite(gap)
    if counted.sum() < 2:
        return 0.0
    return float(np.degrees(np.average(gap[counted], weights=cx[counted])))


#: A sparse picture's content may fill a different share of it in a copy (padding, a crop) by this
#: factor at most, and its centre move this far (fractions of the picture): copies padded by 10 %
#: measure 1.44 and 0; the same shape drawn elsewhere on plain paper 2-5 and 0.1-0.4.
FRAME_AREA = 2.0
FRAME_SHIFT = 0.12


def frame_differs(a: Look, b: Look) -> bool:
    """Whether a sparse picture's content sits elsewhere in the other, or at another size."""
    small, large = sorted((max(a.share, 1 / 255), max(b.share, 1 / 255)))
    shift = max(abs(a.centre[0] - b.centre[0]), abs(a.centre[1] - b.centre[1]))
    return large / small > FRAME_AREA or shift > FRAME_SHIFT


def texts_of(store: IndexStore, ids: Iterable[int], chunk: int = 900) -> dict[int, Text]:
    """The text of each item that has some, as words (and OCR boxes, where kept)."""
    wanted = sorted(set(ids))
    out: dict[int, Text] = {}
    with store.catalog.engine.connect() as conn:
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            query = select(TEXTS.c.item_id, TEXTS.c.body, TEXTS.c.boxes).where(TEXTS.c.item_id.in_(part))
            for item_id, body, boxes in conn.execute(query):
                out[int(item_id)] = Text(pagetext.words(body), json.loads(boxes) if boxes else [])
    return out


@dataclass
class Confirmed:
    """What the second look made of the candidates: pairs kept as copies, pairs that are revisions
    (with the words that differ, each side's and where they stand)."""

    pairs: dict[Pair, tuple[str, float]]
    revisions: dict[Pair, tuple[str, float]]
    changes: dict[Pair, list[dict[str, Any]]]


def confirm(store: IndexStore, rows: dict[int, ItemRow], pairs: dict[Pair, tuple[str, float]]) -> Confirmed:
    """Hold every candidate pair to colour, detail and text (see the module's docstring)."""
    looks: dict[int, Look | None] = {}

    def look(i: int) -> Look | None:
        if i not in looks:
            looks[i] = Look.of(rows[i].phash)
        return looks[i]

    judged = [p for p, (tier, _) in pairs.items() if tier not in ("exact", "raw-pair")]
    texts = texts_of(store, {i for p in judged for i in p})
    out = Confirmed({}, {}, {})
    for pair, evidence in pairs.items():
        if evidence[0] in ("exact", "raw-pair"):
            out.pairs[pair] = evidence
            continue
        a, b = pair
        la, lb = look(a), look(b)
        if la is not None and lb is not None and colour_differs(la, lb):
            continue
        ta, tb = texts.get(a), texts.get(b)
        verdict = pagetext.compare(ta.words, tb.words) if ta and tb else pagetext.TextVerdict("unknown")
        if verdict.kind == "different":
            continue
        if verdict.kind == "revision":
            out.revisions[pair] = evidence
            out.changes[pair] = [_change(x, y, ta, tb) for x, y in verdict.changes]  # type: ignore[arg-type]
            continue
        if verdict.kind == "unknown" and _sparse(la, lb) and not _close(rows[a], rows[b], evidence, la, lb):
            continue
        out.pairs[pair] = evidence
    return out


def _sparse(a: Look | None, b: Look | None) -> bool:
    return any(x is not None and x.paper >= SPARSE_PAPER for x in (a, b))


def _close(a: ItemRow, b: ItemRow, evidence: tuple[str, float], la: Look | None, lb: Look | None) -> bool:
    """Whether two sparse pictures are near enough in code, and framed alike, to be copies without
    their text to confirm it."""
    if la is not None and lb is not None and frame_differs(la, lb):
        return False
    if a.phash is None or b.phash is None:
        return evidence[0] != "perceptual"
    return hamming(a.phash, b.phash) <= SPARSE_DISTANCE


def _change(old: str, new: str, a: Text, b: Text) -> dict[str, Any]:
    """One difference between two revisions: the words on each side and the OCR line boxes that
    hold them (none for a PDF text layer, which keeps no boxes)."""
    return {"from": old, "to": new, "from_box": _box_of(old, a), "to_box": _box_of(new, b)}


def _box_of(phrase: str, text: Text) -> list[float] | None:
    wanted = phrase.split()
    for line in text.boxes:
        found = pagetext.words(str(line[4]))
        if wanted and all(w in found for w in wanted):
            return [round(float(v), 4) for v in line[:4]]
    return None
