"""Regions of a page searched on their own, e.g. the title block of a technical drawing.

Engineering groups reuse one title-block layout, so drawings from the same source share it even
when the parts drawn differ; a vector of that corner finds them. Regions are data: a name and a
box in fractions of the page (x0, y0, x1, y1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import REGION_GROUPS, REGIONS, SCOPES, TILES
from ..errors import UsageError

__all__ = ["REGIONS", "SCOPES", "Box", "crop", "crop_box", "decode_side", "parse_box", "validate"]

#: A part of a picture: (x0, y0, x1, y1), fractions of its width and height, x0 < x1, y0 < y1.
Box = tuple[float, float, float, float]

if TYPE_CHECKING:
    from PIL import Image

#: Pages are brought to this longest side before cropping, whatever their source resolution, so
#: the same title block in a 12 MP scan, a small JPEG and a rendered PDF page yields the same pixels.
REGION_BASE = 1024


def validate(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The regions named (``tiles`` stands for each of its tiles), each once, in order."""
    out: list[str] = []
    for name in names:
        if name in REGION_GROUPS:
            out.extend(REGION_GROUPS[name])
        elif name in REGIONS or name in TILES:
            out.append(name)
        else:
            raise UsageError(f"unknown region {name!r} (known: {', '.join([*REGIONS, *REGION_GROUPS])})")
    return tuple(dict.fromkeys(out))


def box_of(region: str) -> Box:
    """The box of a stored region (a named one, or a tile)."""
    return REGIONS.get(region) or TILES[region]


def parse_box(value: str | Box | list[float]) -> Box:
    """A box given as ``"X0,Y0,X1,Y1"`` (or four numbers), checked: every edge within 0..1 and the
    box not empty. A wrong box is the user's mistake (:class:`UsageError`), said with what was given."""
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) != 4:
        why = f"takes X0,Y0,X1,Y1 (fractions of the width and height, 0 to 1), not {value!r}"
    elif not all(0.0 <= v <= 1.0 for v in parts):
        why = f"{value!r} reaches outside the picture: each edge is a fraction from 0 to 1"
    elif parts[2] <= parts[0] or parts[3] <= parts[1]:
        why = f"{value!r} is empty: X1 must exceed X0 and Y1 exceed Y0"
    else:
        return (parts[0], parts[1], parts[2], parts[3])
    raise UsageError(f"--box {why}", web=f"box {why}")


def decode_side(box: Box, model_side: int) -> int:
    """The shortest side a picture is decoded at so that the part ``box`` alone still fills a
    model input of ``model_side`` pixels (at most 4096)."""
    return min(4096, int(model_side / min(box[2] - box[0], box[3] - box[1])) + 1)


def crop(image: Image.Image, region: str) -> Image.Image:
    """The named ``region`` of ``image`` (see :data:`REGIONS`, :data:`TILES`)."""
    return crop_box(image, box_of(region))


def crop_box(image: Image.Image, box: Box, base: int | None = REGION_BASE) -> Image.Image:
    """The part ``box`` of ``image``, taken from the page brought to ``base`` pixels on its longest
    side first (stored regions: the same pixels whatever the source's resolution); None: as it is."""
    from PIL import Image

    scale = base / max(image.size) if base else 1.0
    if scale < 1:
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX
        )
    x0, y0, x1, y1 = box
    w, h = image.size
    return image.crop((int(x0 * w), int(y0 * h), max(int(x1 * w), int(x0 * w) + 1), max(int(y1 * h), int(y0 * h) + 1)))
