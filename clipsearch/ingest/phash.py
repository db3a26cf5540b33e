"""Perceptual codes for near-duplicate search: robust to resizing, recompression, light edits.

The code is 128 bits: imagehash's pHash (DCT) and dHash (gradient), both taken from the picture
with its uniform border trimmed off, so white padding or a page exported around a photo does not
move it. Measured on originals and edited copies made from the shared corpus (half size, JPEG 35,
~6 % crop, brightness/contrast, watermark, white padding), the summed Hamming distance kept every
pair of distinct pictures, technical drawings included, at 33 bits or more, while 97 % of copy
pairs were within 24 (``make eval`` reruns the measurement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

CODE_BYTES = 16
_TRIM_TOLERANCE = 12  # grey levels a border pixel may differ from the corners' colour
#: Below this spread of grey levels (standard deviation over the border-trimmed picture, at most
#: 512 px) a picture is flat colour or nearly: its code is the DCT's rounding noise, so any two such
#: pictures "match". Such a picture gets no code; only a byte-for-byte copy is its duplicate.
#: Flat colour with JPEG noise measures under 1.5; the faintest corpus drawing (brightened) 12.
FLAT_STD = 3.0


def trim_border(image: Image.Image) -> Image.Image:
    """Crop away a uniform border (the corners' colour); keep the image if that leaves too little."""
    box = content_box(np.asarray(image.convert("L")))
    return image if box is None else image.crop(box)


def content_box(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box around pixels that differ from the background, or None to keep the whole image.

    The background is the corners' colour; where that leaves nearly the whole picture and its
    border is mostly one other colour (a page scanned askew: white wedges in the corners round grey
    paper), that colour is background too."""
    corners = grey[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    background = int(np.median(corners))
    box = _box_around(grey, (background,))
    if box is None or (box[2] - box[0]) * (box[3] - box[1]) < 0.9 * grey.size:
        return box
    paper = _paper_colour(grey)
    if paper is None or abs(paper - background) <= _TRIM_TOLERANCE:
        return box
    return _box_around(grey, (background, paper)) or box


def _box_around(grey: np.ndarray, backgrounds: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Rows and columns are reduced first (``any``) instead of listing every differing pixel: the
    same box at a fifth of the cost on a photo, where nearly every pixel differs."""
    wide = grey.astype(np.int16)
    mask = np.abs(wide - backgrounds[0]) > _TRIM_TOLERANCE
    for other in backgrounds[1:]:
        mask &= np.abs(wide - other) > _TRIM_TOLERANCE
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if (box[2] - box[0]) * (box[3] - box[1]) < 0.05 * grey.size:
        return None
    return box


#: A border (its outer 3 % on each side) is paper when this share of it is within the trimming
#: tolerance of its median.
_PAPER_RING = 0.03
_PAPER_SHARE = 0.6


def _paper_colour(grey: np.ndarray) -> int | None:
    """The one grey level most of the picture's border has, or None for a border of many."""
    dy, dx = max(1, int(grey.shape[0] * _PAPER_RING)), max(1, int(grey.shape[1] * _PAPER_RING))
    ring = np.concatenate([grey[:dy].ravel(), grey[-dy:].ravel(), grey[:, :dx].ravel(), grey[:, -dx:].ravel()])
    level = int(np.median(ring))
    share = float((np.abs(ring.astype(np.int16) - level) <= _TRIM_TOLERANCE).mean())
    return level if share >= _PAPER_SHARE else None


def perceptual_code(image: Image.Image) -> bytes | None:
    """16 bytes: pHash then dHash (64 bits each) of the border-trimmed image; None for a picture
    with too little structure to tell it from another (see :data:`FLAT_STD`)."""
    sig = signature(image)
    return None if sig is None else sig[:CODE_BYTES]


def signature(image: Image.Image) -> bytes | None:
    """What the catalog keeps of a picture's look: the 16-byte :func:`perceptual_code`, then its
    :class:`Look` (:data:`LOOK_BYTES`), both of the border-trimmed picture; None for a flat one.

    The code finds candidates fast (FAISS Hamming search); the look confirms them where the code
    alone cannot: pHash and dHash see grey levels only, so a red and a blue version of one logo get
    one code, and on a page, a line drawing or a flat graphic most of the code's bits describe the
    white paper, so two different pages of one layout come out a few bits apart."""
    import imagehash

    small = image
    if max(image.size) > 512:  # the hashes look at 32x32 and 9x8; trimming needs no more
        small = image.copy()
        small.thumbnail((512, 512))
    grey = small.convert("L")  # what both hashes look at, converted once (per pixel: commutes with crop)
    pixels = np.asarray(grey)
    box = content_box(pixels)
    trimmed = grey if box is None else grey.crop(box)
    if float(np.asarray(trimmed, np.float32).std()) < FLAT_STD:
        return None
    bits = np.concatenate([imagehash.phash(trimmed).hash.ravel(), imagehash.dhash(trimmed).hash.ravel()])
    code = np.packbits(bits.astype(np.uint8)).tobytes()
    coloured = small if box is None else small.crop(box)
    return code + _frame(pixels.shape, box) + _look(coloured.convert("RGB"), _paper_share(pixels, box))


#: The look after the code: where the content sits (three bytes: its box's share of the picture's
#: area, the box's centre across and down, each 0-255), how much of the content is plain background
#: (one byte), a 16x16 grid of lightness (L*, 0-255) and an 8x8 grid of colour (a*, b* + 128).
LOOK_GRID = 16
COLOUR_GRID = 8
LOOK_BYTES = 3 + 1 + LOOK_GRID * LOOK_GRID + 2 * COLOUR_GRID * COLOUR_GRID


def _frame(shape: tuple[int, ...], box: tuple[int, int, int, int] | None) -> bytes:
    """Where the trimmed content sits in the picture: a copy keeps it (a little padding or cropping
    aside); a small shape on plain paper drawn elsewhere, or at another size, moves it."""
    height, width = shape[:2]
    x0, y0, x1, y1 = box if box is not None else (0, 0, width, height)
    share = (x1 - x0) * (y1 - y0) / (width * height)
    return bytes(round(255 * v) for v in (share, (x0 + x1) / 2 / width, (y0 + y1) / 2 / height))


def _paper_share(grey: np.ndarray, box: tuple[int, int, int, int] | None) -> float:
    """The share of the trimmed picture that is plain background (the corners' colour, or the
    paper's): near 0 for a photo, most of a page of text, a line drawing or a logo on white."""
    inner = (grey if box is None else grey[box[1] : box[3], box[0] : box[2]]).astype(np.int16)
    corners = grey[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    plain = np.abs(inner - int(np.median(corners))) <= _TRIM_TOLERANCE
    paper = _paper_colour(grey)
    if paper is not None:
        plain |= np.abs(inner - paper) <= _TRIM_TOLERANCE
    return float(plain.mean())


def _look(rgb: Image.Image, paper: float) -> bytes:
    grid = np.asarray(rgb.resize((LOOK_GRID, LOOK_GRID), Image.Resampling.BOX), np.float32) / 255.0
    lab = _srgb_to_lab(grid)
    lightness = np.clip(np.rint(lab[..., 0] * 2.55), 0, 255).astype(np.uint8)
    step = LOOK_GRID // COLOUR_GRID
    ab = lab[..., 1:].reshape(COLOUR_GRID, step, COLOUR_GRID, step, 2).mean(axis=(1, 3))
    colour = np.clip(np.rint(ab + 128), 0, 255).astype(np.uint8)
    return bytes([round(paper * 255)]) + lightness.tobytes() + colour.tobytes()


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0-1 to CIELAB (D65): L* 0-100, a* and b* about -128..127."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]], np.float32)
    xyz /= np.array([0.95047, 1.0, 1.08883], np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


@dataclass(frozen=True)
class Look:
    """A stored look, read back: see :func:`signature`."""

    share: float  # the content box's share of the picture's area, 0-1
    centre: tuple[float, float]  # the content box's centre, fractions across and down
    paper: float  # share of plain background in the content, 0-1
    lightness: np.ndarray  # (16, 16) float32, 0-255
    colour: np.ndarray  # (8, 8, 2) float32, a* and b*

    @classmethod
    def of(cls, stored: bytes | None) -> Look | None:
        """The look in a stored signature; None for a code stored without one (older catalogs)."""
        if stored is None or len(stored) != CODE_BYTES + LOOK_BYTES:
            return None
        raw = np.frombuffer(stored, np.uint8, offset=CODE_BYTES)
        cells = LOOK_GRID * LOOK_GRID
        lightness = raw[4 : 4 + cells].astype(np.float32).reshape(LOOK_GRID, LOOK_GRID)
        colour = raw[4 + cells :].astype(np.float32).reshape(COLOUR_GRID, COLOUR_GRID, 2) - 128
        return cls(raw[0] / 255.0, (raw[1] / 255.0, raw[2] / 255.0), raw[3] / 255.0, lightness, colour)


#: The codes flat colour got before :data:`FLAT_STD` existed (pHash keeps only the DC bit, black not
#: even that; dHash finds no edge), left out of perceptual matching in catalogs that still hold them.
FLAT_CODES = frozenset({b"\x80" + bytes(CODE_BYTES - 1), bytes(CODE_BYTES)})


def has_structure(code: bytes | None) -> bool:
    """Whether a stored code can stand for its picture: a code of the right size, not a flat one."""
    return (
        code is not None and len(code) in (CODE_BYTES, CODE_BYTES + LOOK_BYTES) and code[:CODE_BYTES] not in FLAT_CODES
    )


def hamming(a: bytes, b: bytes) -> int:
    a, b = a[:CODE_BYTES], b[:CODE_BYTES]
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
