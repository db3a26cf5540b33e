"""Small copies of the pictures phase one decoded, kept for the text pass's gate.

Phase one decodes every photo anyway (a 12 MP JPEG at 1/8 scale for the model); decoding it again
for the text detector would cost as much once more, most of a photo's text-pass time. So phase one
writes that picture, shrunk to the gate's size, as a small JPEG in the index folder, and the text
pass reads it instead of the original. A copy is keyed by content hash and page, deleted once its
text is read; the folder goes when nothing waits for text. A missing or unreadable copy only
means the original is decoded again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .gate import GATE_SIDE

FOLDER = "text-pending"
#: The shortest side phase one decodes at while OCR is on: a 4:3 picture's longest side is then the
#: gate's own (at most 1/8 of a 12 MP JPEG's, so it costs no more than the model's 224-384).
SHORT_SIDE = GATE_SIDE * 3 // 4


def path_for(folder: str | os.PathLike[str], digest: str, page: int) -> Path:
    return Path(folder) / f"{digest}-{page}.jpg"


def save(image: Any, path: Path) -> None:
    """Keep ``image`` (PIL) shrunk to the gate's side; a failure to write is no error (the text pass
    decodes the original instead), and neither is a picture decoded smaller than the gate looks."""
    full = image.info.get("original_size", image.size)
    if max(image.size) < min(GATE_SIDE, max(full)):
        return
    # a quarter over the gate's side is kept as it is (the gate resizes anyway): shrinking phase one's
    # 1/8 decode of a 12 MP photo (500 px) to 480 cost more than writing it
    small = image if max(image.size) <= GATE_SIDE * 5 // 4 else image.copy()
    if small is not image:
        small.thumbnail((GATE_SIDE, GATE_SIDE))
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        small.convert("RGB").save(tmp, "JPEG", quality=90)
        os.replace(tmp, path)


def load(path: Path) -> np.ndarray | None:
    """The kept copy as OpenCV decodes it (BGR, what the gate takes without converting: most
    pictures need nothing else), or None when there is none, or it is damaged or cut short: the
    gate then reads the file itself."""
    import cv2

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.rstrip(b"\0").endswith(b"\xff\xd9"):  # cut short: OpenCV would fill the rest with grey
        return None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return pixels if pixels is not None and pixels.size else None


def drop(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def clear(folder: str | os.PathLike[str]) -> None:
    """Nothing waits for text any more: the folder goes, with any copy a crash left behind."""
    shutil.rmtree(folder, ignore_errors=True)
