"""Perceptual codes for near-duplicate search: robust to resizing, recompression, light edits.

The code is 128 bits: imagehash's pHash (DCT) and dHash (gradient), both taken from the picture
with its uniform border trimmed off, so white padding or a page exported around a photo does not
move it. Measured on originals and edited copies made from the shared corpus (half size, JPEG 35,
~6 % crop, brightness/contrast, watermark, white padding), the summed Hamming distance kept every
pair of distinct pictures, technical drawings included, at 33 bits or more, while 97 % of copy
pairs were within 24 (``make eval`` reruns the measurement).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CODE_BYTES = 16
_TRIM_TOLERANCE = 12  # grey levels a border pixel may differ from the corners' colour


def trim_border(image: Image.Image) -> Image.Image:
    """Crop away a uniform border (the corners' colour); keep the image if that leaves too little."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    background = int(np.median([grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]]))
    mask = np.abs(grey - background) > _TRIM_TOLERANCE
    if not mask.any():
        return image
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    if (box[2] - box[0]) * (box[3] - box[1]) < 0.05 * grey.size:
        return image
    return image.crop(box)


def perceptual_code(image: Image.Image) -> bytes:
    """16 bytes: pHash then dHash (64 bits each) of the border-trimmed image."""
    import imagehash

    small = image.copy()
    small.thumbnail((512, 512))  # the hashes look at 32x32 and 9x8; trimming needs no more
    trimmed = trim_border(small)
    bits = np.concatenate([imagehash.phash(trimmed).hash.ravel(), imagehash.dhash(trimmed).hash.ravel()])
    return np.packbits(bits.astype(np.uint8)).tobytes()


def hamming(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
