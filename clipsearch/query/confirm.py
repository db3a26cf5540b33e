"""The second look every candidate pair gets before it is called a copy: colour, detail, text.

Candidates come fast and loose from the codes and the vectors (``duplicates.py``); each one is
then held to what a person means by "the same picture saved twice":

- **colour**: the perceptual code is grey, so a red and a blue version of one logo share it; the
  hues of the look's colour grid (``ingest/phash.py``) tell them apart. A grey copy of a colour picture (a
  scan, a print) is still a copy: colour is compared only where both pictures have some.
- **framing**: on a page, a line drawing or a flat graphic most of the picture is paper, and the
  code describes the trimmed content only: the same shape drawn elsewhere on the paper, or at
  another size, codes alike. Unless their text confirms them, such pictures must frame their
  content alike (:func:`frame_differs`).
- **text**: where both carry text (a PDF text layer or OCR), they are the same page only when the
  text agrees (``pagetext.py``); a few differing words make the pair a ``revision``, more make it
  no pair at all. OCR's text is noisy: where it read a side, differing words make a revision only
  where the pixels differ too (:func:`judge`). This holds for every tier but exact copies,
  semantic included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from ..ingest.phash import Look
from ..store.catalog import ItemRow
from ..store.folder import IndexStore
from ..store.schema import TEXTS
from . import pagetext
from .pixels import Pictures, overlay

#: Share of plain background from which a picture counts as sparse (page, drawing, flat graphic):
#: photos measure under 0.2, corpus drawings 0.85-0.94, text pages and logos on white 0.4 and up.
SPARSE_PAPER = 0.4
#: ... or whose trimmed content covers at most this share of it (a filled shape on white paper).
SPARSE_SHARE = 0.6
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
    source: str = "ocr"  # 'pdf': a text layer, exact; 'ocr': read from the pixels, noisy
    #: each OCR line's box and words, read once (an item meets several look-alikes)
    lines: list[tuple[list[float], frozenset[str]]] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = [([round(float(v), 4) for v in line[:4]], frozenset(pagetext.words(str(line[4]))))
                      for line in self.boxes]  # fmt: skip


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
            cols = (TEXTS.c.item_id, TEXTS.c.body, TEXTS.c.boxes, TEXTS.c.source)
            for item_id, body, boxes, source in conn.execute(select(*cols).where(TEXTS.c.item_id.in_(part))):
                out[int(item_id)] = Text(pagetext.words(body), json.loads(boxes) if boxes else [], source)
    return out


@dataclass
class Confirmed:
    """What the second look made of the candidates: pairs kept as copies, pairs that are revisions
    (with the words that differ, each side's and where they stand)."""

    pairs: dict[Pair, tuple[str, float]]
    revisions: dict[Pair, tuple[str, float]]
    changes: dict[Pair, list[dict[str, Any]]]
    layered: frozenset[int] = frozenset()  # items whose text is a PDF text layer (kept over copies)


def confirm(store: IndexStore, rows: dict[int, ItemRow], pairs: dict[Pair, tuple[str, float]]) -> Confirmed:
    """Hold every candidate pair to colour, detail and text (see the module's docstring)."""
    looks: dict[int, Look | None] = {}

    def look(i: int) -> Look | None:
        if i not in looks:
            looks[i] = Look.of(rows[i].phash)
        return looks[i]

    judged = [p for p, (tier, _) in pairs.items() if tier not in ("exact", "raw-pair")]
    texts = texts_of(store, {i for p in judged for i in p})
    out = Confirmed({}, {}, {}, frozenset(i for i, t in texts.items() if t.source == "pdf"))
    pictures = Pictures()
    for pair, evidence in pairs.items():
        if evidence[0] in ("exact", "raw-pair"):
            out.pairs[pair] = evidence
            continue
        a, b = pair
        la, lb = look(a), look(b)
        if la is not None and lb is not None and colour_differs(la, lb):
            continue
        ta, tb = texts.get(a), texts.get(b)
        verdict = judge(ta, tb, rows[a], rows[b], pictures) if ta and tb else pagetext.TextVerdict("unknown")
        if verdict.kind == "different":
            continue
        if verdict.kind == "revision":
            out.revisions[pair] = evidence
            out.changes[pair] = [_change(x, y, ta, tb) for x, y in verdict.changes]  # type: ignore[arg-type]
            continue
        if verdict.kind == "unknown" and _sparse(la, lb) and not _close(la, lb):
            continue
        out.pairs[pair] = evidence
    return out


#: Fewest words OCR must have read on each side for its text to tell two pictures apart: OCR of a
#: small or blurred picture reads a handful of words, a different handful each time.
OCR_WORDS = 10
#: Pictures smaller than this (longer side, pixels) are read too unreliably for their OCR'd text to
#: tell them apart: the corpus's 384 px photo of a page read 7-42 words, a different set each copy.
OCR_SIDE = 800
#: Share of the shorter OCR'd text the other must hold for the two to be looked at as one page,
#: noise aside: copies of the corpus drawings measured 0.70-1.00; two drawings of one title block
#: 0.58, two reports of one form 0.73 (the pixels, or the words where those cannot tell, then part them).
OCR_SHARED = 0.6


def judge(ta: Text, tb: Text, a: ItemRow, b: ItemRow, pictures: Pictures | None = None) -> pagetext.TextVerdict:
    """The text verdict on two look-alike pictures, as far as their texts can be trusted.

    Two text layers are exact: their words decide (``pagetext.compare``). Where OCR read a side, a
    copy reads a little differently from its original, as much as a revision differs: texts that
    mostly agree are judged by the pixels at the differing words (``pixels.py``): none changed, one
    page read twice; a few, a revision; many, another page. Where the pixels cannot tell (a scan
    turned a degree), the words decide as for text layers."""
    verdict = pagetext.compare(ta.words, tb.words)
    if verdict.kind in ("same", "unknown") or (ta.source == "pdf" and tb.source == "pdf"):
        return verdict
    small = any(t.source != "pdf" and max(r.width, r.height) < OCR_SIDE for t, r in ((ta, a), (tb, b)))
    if small or min(len(ta.words), len(tb.words)) < OCR_WORDS:
        return pagetext.TextVerdict("unknown", words=verdict.words)
    if pagetext.shared(ta.words, tb.words) < OCR_SHARED:
        return pagetext.TextVerdict("different", words=verdict.words)

    placed_a = [(w, box) for w in verdict.only_a if (box := _box_of(w, ta))]
    placed_b = [(w, box) for w in verdict.only_b if (box := _box_of(w, tb))]
    if not (placed_a or placed_b):
        return _unseen(verdict, ta, tb)
    seen = overlay(a, b, ta.boxes, tb.boxes, [p[1] for p in placed_a], [p[1] for p in placed_b], pictures)
    if seen is None or not seen.aligned or not seen.checked:
        return _unseen(verdict, ta, tb)
    if not seen.changed:
        return pagetext.TextVerdict("same", words=verdict.words)
    if len(seen.changed) > min(2 * pagetext.REVISION_WORDS, max(4, pagetext.REVISION_SHARE * verdict.words)):
        return pagetext.TextVerdict("different", words=verdict.words)
    placed = placed_a + placed_b
    old = [placed[i][0] for i in seen.changed if i < len(placed_a)]
    new = [placed[i][0] for i in seen.changed if i >= len(placed_a)]
    changes = pagetext.pair_up(old or verdict.only_a[:1], new or verdict.only_b[:1])
    return pagetext.TextVerdict("revision", changes, verdict.words, verdict.only_a, verdict.only_b)


#: Share of words two OCR'd texts must hold in common to be one page read twice when the pixels
#: cannot say (two scans turned differently): copies of the corpus drawings measured 0.90-1.00.
OCR_SAME = 0.85


def _unseen(verdict: pagetext.TextVerdict, ta: Text, tb: Text) -> pagetext.TextVerdict:
    """The verdict where the pixels cannot tell. Against a text layer the words stay exact (OCR's
    noise then makes a copy a revision: reported, never moved); two OCR'd texts that share nearly
    all their words are one page read twice."""
    if "pdf" not in (ta.source, tb.source) and pagetext.shared(ta.words, tb.words) >= OCR_SAME:
        return pagetext.TextVerdict("same", words=verdict.words)
    return verdict


def _sparse(a: Look | None, b: Look | None) -> bool:
    """Mostly paper: plain background inside the content, or round a small content (a shape on white)."""
    return any(x is not None and (x.paper >= SPARSE_PAPER or x.share <= SPARSE_SHARE) for x in (a, b))


def _close(la: Look | None, lb: Look | None) -> bool:
    """Whether two sparse pictures are framed alike and lit alike cell by cell, as copies are,
    without their text to confirm them (an older catalog's codes carry no look: they pass as before)."""
    return la is None or lb is None or not (frame_differs(la, lb) or grid_apart(la, lb) > GRID_APART)


#: How far apart the lightness grids of two sparse pictures may lie (mean difference of their
#: z-scores, 16x16 cells of the trimmed content) for them to be copies: copies of the ``make eval``
#: photo set's sparse pictures (drawings, dark-sky photos; brightened, cropped, padded) measured at
#: most 0.47, a disc with a white square in it against the plain disc 0.86.
GRID_APART = 0.6


def grid_apart(a: Look, b: Look) -> float:
    """The mean difference of two looks' lightness grids, each as z-scores (brightness and
    contrast aside)."""
    x, y = a.lightness.ravel(), b.lightness.ravel()
    zx, zy = (x - x.mean()) / max(float(x.std()), 1.0), (y - y.mean()) / max(float(y.std()), 1.0)
    return float(np.abs(zx - zy).mean())


def _change(old: str, new: str, a: Text, b: Text) -> dict[str, Any]:
    """One difference between two revisions: the words on each side and the OCR line boxes that
    hold them (none for a PDF text layer, which keeps no boxes). Where a word stands on several
    lines (``20`` in a dimension and in a scale), the line nearest the other side's is taken."""
    lines_a, lines_b = _lines_with(old, a), _lines_with(new, b)
    if lines_a and lines_b:
        box_a, box_b = min(((x, y) for x in lines_a for y in lines_b), key=lambda p: _apart(*p))
    else:
        box_a, box_b = (lines_a or [None])[0], (lines_b or [None])[0]
    return {"from": old, "to": new, "from_box": box_a, "to_box": box_b}


def _lines_with(phrase: str, text: Text) -> list[list[float]]:
    """The boxes of the OCR lines that hold every word of ``phrase``."""
    wanted = phrase.split()
    return [box for box, words in text.lines if wanted and all(w in words for w in wanted)]


def _apart(a: list[float], b: list[float]) -> float:
    return abs(a[0] + a[2] - b[0] - b[2]) + abs(a[1] + a[3] - b[1] - b[3])


def _box_of(phrase: str, text: Text) -> list[float] | None:
    return next(iter(_lines_with(phrase, text)), None)
