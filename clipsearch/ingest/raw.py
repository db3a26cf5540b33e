"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2) as pictures, through LibRaw (``rawpy``).

A RAW file carries the camera's own JPEG preview, usually full size: when it is at least as large as
the model needs, it is used (a JPEG decode) instead of demosaicing the sensor data, tens of times
slower (`make bench`: raw_preview_ms against raw_demosaic_ms). Otherwise the sensor data is
demosaiced at half size, which is still far more than a model sees. The picture is turned upright
by the orientation LibRaw reads from the file.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

from PIL import Image, ImageOps

from ..errors import ImageLoadError

#: LibRaw's ``flip`` -> the PIL transpose that makes the picture upright.
_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}


def load_raw(source: str | os.PathLike[str] | IO[bytes], min_size: int | None, name: object) -> Image.Image:
    """The upright RGB picture of a RAW file; ``info['original_size']`` is the sensor picture's size."""
    try:
        import rawpy
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImageLoadError(name, "RAW files need rawpy (pip install rawpy)") from err
    data = source.read() if hasattr(source, "read") else None  # type: ignore[union-attr]
    try:
        with rawpy.imread(io.BytesIO(data) if data is not None else os.fspath(source)) as raw:  # type: ignore[arg-type]
            sizes = raw.sizes
            full = (sizes.width, sizes.height) if sizes.flip not in (5, 6) else (sizes.height, sizes.width)
            image = embedded_preview(raw, min_size) or _developed(raw)
    except ImageLoadError:
        raise
    except Exception as err:  # LibRaw's own errors: unsupported camera, truncated file, not a RAW
        raise ImageLoadError(name, f"cannot decode RAW: {str(err) or type(err).__name__}") from err
    image.info["original_size"] = full
    return image


def embedded_preview(raw: Any, min_size: int | None) -> Image.Image | None:
    """The embedded JPEG preview, upright, when it covers ``min_size``; else None."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    image = Image.open(io.BytesIO(thumb.data))
    if min_size and min(image.size) < min_size:
        return None
    image = ImageOps.exif_transpose(image) or image  # a preview may carry its own orientation
    if raw.sizes.flip in _FLIP and (image.width > image.height) == (raw.sizes.width > raw.sizes.height):
        image = image.transpose(_FLIP[raw.sizes.flip])  # not turned yet: turn as the sensor data says
    return image.convert("RGB")


def _developed(raw: Any) -> Image.Image:
    """The sensor data demosaiced at half size (LibRaw applies the orientation)."""
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return Image.fromarray(rgb)
