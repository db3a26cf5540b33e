"""Opening one file as an RGB picture ready for a model, or saying plainly why it can't be.

Everything a real photo folder throws at us is handled here so the indexer can treat files as
"an image or a reason": EXIF orientation, palette/alpha/16-bit/CMYK modes, first frame of animations,
decompression bombs, truncated or mislabelled files. JPEGs are decoded at reduced size with
Pillow's ``draft`` when the model input is far smaller, which is most of the cost of indexing photos.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import IO

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..config import DEFAULT_MAX_MEGAPIXELS
from ..errors import ImageLoadError

try:  # HEIC/HEIF/AVIF from phones, when the plugin is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - optional plugin
    HEIF_SUPPORTED = False

#: Camera RAW files, read through LibRaw (``rawpy``, which ships it in its wheel).
RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"})
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | ({".heic", ".heif", ".avif"} if HEIF_SUPPORTED else set())
    | RAW_EXTENSIONS
)
#: Draft decoding keeps at least this many times the model's input size, for resize quality.
DRAFT_MARGIN = 1.0

# Pillow's own bomb check is replaced by ours (explicit bound, clear reason); truncated files are errors.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False
# A damaged EXIF block leaves its metadata unknown (metadata.py); Pillow's warning about it would reach
# the user's terminal once per run, from whichever decoding thread met it first. A process-wide filter:
# warnings.catch_warnings() is not thread-safe.
warnings.filterwarnings("ignore", message="Corrupt EXIF data", category=UserWarning)


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any mode to RGB; transparency is composited on white (documents, logos, icons)."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        # 16/32-bit greyscale: scale into 8 bits by the actual range instead of clipping.
        lo, hi = image.getextrema()
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = image.point(lambda v: (v - lo) * scale).convert("L")
    if image.mode in {"RGBA", "LA", "PA"}:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def load_image(
    source: str | os.PathLike[str] | IO[bytes],
    min_size: int | None = None,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    name: object = None,
    *,
    long_side: int | None = None,
) -> Image.Image:
    """Open ``source`` (a path or a binary file object) as an upright RGB image.

    ``min_size``: the shortest side the caller needs (the model input); JPEGs are decoded at the
    smallest DCT scale that still covers it. ``long_side``, instead: the longest side it needs (OCR
    reads a picture at most this large: decoding a 12 MP photo whole, then shrinking it, cost more
    than reading its sign). ``image.info["original_size"]`` keeps the upright size
    of the full image. Raises :class:`ImageLoadError` with a short reason, naming ``name`` or the path.
    """
    path = name if name is not None else source
    if isinstance(path, str | os.PathLike) and is_raw_path(path):
        from .raw import load_raw

        return load_raw(source, min_size, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(source)
            pixels = image.width * image.height
            if max_megapixels and pixels > max_megapixels * 1_000_000:
                raise ImageLoadError(
                    path,
                    f"image too large: {image.width}x{image.height} = {pixels / 1e6:.0f} MP "
                    f"(limit {max_megapixels:g} MP{'' if path == 'upload' else ', see --max-megapixels'})",
                )
            full_size = image.size
            if getattr(image, "is_animated", False):
                image.seek(0)
            if (min_size or long_side) and image.format == "JPEG":
                want = int((long_side or min_size or 0) * DRAFT_MARGIN)
                # draft keeps both sides >= the request; the request keeps the aspect ratio so the
                # shortest side still covers the model input after the EXIF rotation below.
                side = max if long_side else min
                scale = want / max(1, side(image.width, image.height))
                if scale < 1:  # (a longest side asked for is met exactly: 2000 of a 4000 px photo is 1/2)
                    pad = 0 if long_side else 1
                    image.draft("RGB", (int(image.width * scale) + pad, int(image.height * scale) + pad))
            image.load()
            image = ImageOps.exif_transpose(image) or image
            rgb = to_rgb(image)
            if (full_size[0] > full_size[1]) != (rgb.width > rgb.height):
                full_size = (full_size[1], full_size[0])  # EXIF rotated it a quarter turn
            rgb.info["original_size"] = full_size
    except ImageLoadError:
        raise
    except FileNotFoundError as err:
        raise ImageLoadError(path, "file vanished during the run") from err
    except PermissionError as err:
        raise ImageLoadError(path, "permission denied") from err
    except IsADirectoryError as err:
        raise ImageLoadError(path, "is a directory") from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(path, "not a recognised image (wrong extension or corrupt header)") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageLoadError(path, f"cannot decode image: {_short(err)}") from err
    except Image.DecompressionBombError as err:  # pragma: no cover - MAX_IMAGE_PIXELS is off
        raise ImageLoadError(path, f"decompression bomb: {_short(err)}") from err
    except MemoryError as err:
        raise ImageLoadError(path, "out of memory decoding image") from err
    if rgb.width < 1 or rgb.height < 1:
        raise ImageLoadError(path, "image has no pixels")
    return rgb


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]
