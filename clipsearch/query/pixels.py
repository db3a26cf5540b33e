"""Whether two look-alike pictures differ where their text differs: OCR's noise or a real change.

OCR reads one drawing twice a little differently (a digit dropped, a symbol read as a letter), as
much as a revision changes it, so where OCR read a side, differing words alone cannot say "revision".
The pixels can: the second picture is laid over the first and the two are compared at the boxes of
the differing words. A changed dimension or revision letter differs there far more than resampling,
recompression or a change of brightness differ on the rest of the page; OCR's misreadings sit on
unchanged pixels. Only pairs whose text disagrees come here, so the cost (two decodes) is paid rarely.

Laying one over the other: the two pictures' trimmed contents are matched, or, where that leaves
them apart (a crop), lines that read alike on both sides and once each are anchors. Where neither
lays them closely (a scan turned a degree) the pixels cannot tell, and say so:
:attr:`Overlay.aligned` is False.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ClipsearchError
from ..ingest.phash import content_box
from ..store.catalog import ItemRow

#: The first picture's longer side as compared, in pixels.
SIDE = 1600
#: A box has changed when its mean difference exceeds this many times the typical difference of
#: the blocks that hold ink, and :data:`MIN_LEVELS` at least (differences of pictures brought to one
#: brightness and contrast, in 64ths of their spread). Measured: a changed dimension 19-21 over a
#: typical 0.01; the words OCR read differently on copies of the corpus drawings (brightened, JPEG
#: 35, half size, padded) at most 14.5 over a typical 3.3.
OVER_NOISE = 4.5
MIN_LEVELS = 12.0
#: Typical inked-block difference above which the two pictures do not lie on each other closely
#: enough to judge a box: copies of the corpus drawings whose trimmed contents line up measured
#: 0.3-4 (scaled, recompressed, brightened, padded); a 6 % crop, a scan turned by a degree, or a
#: copy trimmed differently 5-100 (``make eval``'s photo set).
ALIGNED = 4.0
#: Most typical distance (a fraction of the picture) between anchor lines laid over each other for
#: the two pictures to count as lying on each other whatever their pixels' noise: copies scaled,
#: padded, cropped or recompressed keep their lines in place; a scan turned a degree moves them 1-2 %.
ANCHORED = 0.003
_BLOCK = 32
_MIN_ANCHORS = 3

Box = Sequence[float]  # x0, y0, x1, y1 in fractions of the picture
Lines = Sequence[Sequence[Any]]  # OCR lines: x0, y0, x1, y1, text


@dataclass
class Overlay:
    changed: list[int]  # the boxes whose pixels differ (indexes into the first's boxes, then the second's)
    checked: int  # boxes that could be looked at
    aligned: bool  # whether the pictures lie on each other closely enough for the count to mean anything


@dataclass
class _Picture:
    """A picture ready to be laid over another: brought to one brightness and contrast (z-scores
    in 64ths) and blurred a little, once, whatever it is compared with."""

    levels: Any  # PIL image, mode F
    ink: float  # the level below which a pixel is ink (grey 160 before normalising)
    paper: float  # the level of white
    box: tuple[int, int, int, int]  # the trimmed content, pixels
    size: tuple[int, int]


class Pictures:
    """The pictures one ``duplicates`` run lays over each other, each read once (a drawing may be
    compared with several look-alikes), the most recent few kept."""

    def __init__(self, keep: int = 32) -> None:
        self._kept: dict[int, _Picture | None] = {}
        self._keep = keep

    def __call__(self, row: ItemRow) -> _Picture | None:
        if row.id not in self._kept:
            if len(self._kept) >= self._keep:
                self._kept.pop(next(iter(self._kept)))
            self._kept[row.id] = _picture(row)
        return self._kept[row.id]


def _picture(row: ItemRow) -> _Picture | None:
    from PIL import Image, ImageFilter

    from ..ingest.picture import item_picture

    try:
        grey = item_picture(row.path, row.page, row.time, SIDE // 2).convert("L")
    except (ClipsearchError, OSError, ValueError):
        return None
    grey.thumbnail((SIDE, SIDE))  # near the compared size, so laying one on the other hardly resamples
    raw = np.asarray(grey)
    mean, spread = float(raw.mean()), max(float(raw.std()), 1.0) / 64.0
    blurred = np.asarray(grey.filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    levels = Image.fromarray((blurred - mean) / spread, mode="F")
    box = content_box(raw) or (0, 0, grey.width, grey.height)
    return _Picture(levels, (160 - mean) / spread, (255 - mean) / spread, box, grey.size)


def _fit(lines_a: Lines, lines_b: Lines) -> tuple[float, float, float, float] | None:
    """(sx, tx, sy, ty) with a = s * b + t, per axis in fractions, from lines read alike once on each side."""

    def unique(lines: Lines) -> dict[str, Sequence[Any]]:
        seen: dict[str, list[Sequence[Any]]] = {}
        for line in lines:
            seen.setdefault("".join(str(line[4]).split()).casefold(), []).append(line)
        return {k: v[0] for k, v in seen.items() if len(v) == 1 and len(k) >= 3}

    ua, ub = unique(lines_a), unique(lines_b)
    shared = [k for k in ua if k in ub]
    if len(shared) < _MIN_ANCHORS:
        return None
    fit = []
    for i, j in ((0, 2), (1, 3)):
        src = np.array([float(ub[k][c]) for k in shared for c in (i, j)])
        dst = np.array([float(ua[k][c]) for k in shared for c in (i, j)])
        if np.ptp(src) < 0.05:
            return None
        s, t = np.polyfit(src, dst, 1)
        if float(np.median(np.abs(s * src + t - dst))) > ANCHORED:
            return None
        fit += [float(s), float(t)]
    return fit[0], fit[1], fit[2], fit[3]


def _content_fit(a: _Picture, b: _Picture) -> tuple[float, float, float, float]:
    """The fit that lays ``b``'s trimmed content on ``a``'s."""
    (ba, (wa, ha)), (bb, (wb, hb)) = (a.box, a.size), (b.box, b.size)
    sx = ((ba[2] - ba[0]) / wa) / ((bb[2] - bb[0]) / wb)
    sy = ((ba[3] - ba[1]) / ha) / ((bb[3] - bb[1]) / hb)
    return sx, ba[0] / wa - sx * bb[0] / wb, sy, ba[1] / ha - sy * bb[1] / hb


def _laid(pa: _Picture, pb: _Picture, fit: tuple[float, float, float, float]) -> tuple[np.ndarray, float]:
    """``pb`` laid over ``pa`` by ``fit``: the difference map, and the typical difference of the
    blocks that hold ink (the 90th percentile: resampling and recompression, or misalignment)."""
    from PIL import Image

    sx, tx, sy, ty = fit
    (wa, ha), (wb, hb) = pa.size, pb.size
    affine = (wb / (sx * wa), 0.0, -tx * wb / sx, 0.0, hb / (sy * ha), -ty * hb / sy)
    laid = np.asarray(pb.levels.transform(pa.size, Image.Transform.AFFINE, affine, Image.Resampling.BILINEAR,
                                          fillcolor=pb.paper))  # fmt: skip
    first = np.asarray(pa.levels)
    ink = (first < pa.ink) | (laid < pb.ink)
    diff = np.abs(first - laid)
    h, w = (diff.shape[0] // _BLOCK) * _BLOCK, (diff.shape[1] // _BLOCK) * _BLOCK
    blocks = diff[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).mean(axis=(1, 3))
    inked = ink[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).any(axis=(1, 3))
    return diff, float(np.percentile(blocks[inked], 90)) if inked.any() else 0.0


def overlay(a: ItemRow, b: ItemRow, lines_a: Lines, lines_b: Lines, boxes_a: Sequence[Box],
            boxes_b: Sequence[Box], pictures: Pictures | None = None) -> Overlay | None:  # fmt: skip
    """Lay ``b`` over ``a`` and count the boxes (each given on its own picture, in fractions) where
    they differ; None where a picture cannot be read. Of the two ways to lay them (by anchors, by
    trimmed content), the one that leaves them closer is taken."""
    load = pictures or Pictures()
    pa, pb = load(a), load(b)
    if pa is None or pb is None:
        return None
    fit = _content_fit(pa, pb)
    diff, noise = _laid(pa, pb, fit)
    anchored = _fit(lines_a, lines_b)
    if anchored is not None and noise > ALIGNED:  # the trimmed contents do not line up (a crop)
        again = _laid(pa, pb, anchored)
        if again[1] < noise:
            (diff, noise), fit = again, anchored
    sx, tx, sy, ty = fit
    wa, ha = pa.size
    bar = max(OVER_NOISE * noise, MIN_LEVELS)
    mapped = [(sx * x0 + tx, sy * y0 + ty, sx * x1 + tx, sy * y1 + ty) for x0, y0, x1, y1 in boxes_b]
    changed, checked = [], 0
    for i, (x0, y0, x1, y1) in enumerate([*boxes_a, *mapped]):
        left, top = max(0, int(x0 * wa)), max(0, int(y0 * ha))
        right, bottom = min(wa, int(np.ceil(x1 * wa))), min(ha, int(np.ceil(y1 * ha)))
        if right - left >= 3 and bottom - top >= 3:
            checked += 1
            if float(diff[top:bottom, left:right].mean()) > bar:
                changed.append(i)
    return Overlay(changed, checked, noise <= ALIGNED or (anchored is not None and fit == anchored))
