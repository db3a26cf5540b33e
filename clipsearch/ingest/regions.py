"""Regions of a page searched on their own, e.g. the title block of a technical drawing.

Engineering groups reuse one title-block layout, so drawings from the same source share it even
when the parts drawn differ; a vector of that corner finds them. Regions are data: a name and a
box in fractions of the page (x0, y0, x1, y1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import REGIONS, SCOPES
from ..errors import UsageError

__all__ = ["REGIONS", "SCOPES", "crop", "validate"]

if TYPE_CHECKING:
    from PIL import Image

#: Pages are brought to this longest side before cropping, whatever their source resolution, so
#: the same title block in a 12 MP scan, a small JPEG and a rendered PDF page yields the same pixels.
REGION_BASE = 1024


def validate(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    for name in names:
        if name not in REGIONS:
            raise UsageError(f"unknown region {name!r} (known: {', '.join(REGIONS)})")
    return tuple(dict.fromkeys(names))


def crop(image: Image.Image, region: str) -> Image.Image:
    from PIL import Image

    scale = REGION_BASE / max(image.size)
    if scale < 1:
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX
        )
    x0, y0, x1, y1 = REGIONS[region]
    w, h = image.size
    return image.crop((int(x0 * w), int(y0 * h), max(int(x1 * w), int(x0 * w) + 1), max(int(y1 * h), int(y0 * h) + 1)))
