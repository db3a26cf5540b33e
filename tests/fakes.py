"""Engines of our own, plugged through the library's seams instead of patching its insides:

- :class:`ColourEncoder` through ``Index.create(loader=...)``: an image model whose answers a test
  can predict (a picture's vector is its mean colour, a text's the colour words it names);
- :class:`ScriptedReader` and :class:`ScriptedGate` through ``Index.create(ocr=OcrPool(...))``:
  text engines that "read" what the test wrote in a picture's name-free pixels (its mean colour
  picks the lines), or fail, or take their time, as the test says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from clipsearch import OcrPool, ReaderAbilities, TextReader

#: The colours the fakes know, as RGB in 0..1.
COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0), "white": (1.0, 1.0, 1.0)}


def colour_of(picture: Any) -> str:
    """The known colour nearest ``picture``'s mean (PIL, RGB, or a BGR array from the gate's copy)."""
    pixels = np.asarray(picture, dtype=np.float32)
    if isinstance(picture, np.ndarray):
        pixels = pixels[:, :, ::-1]
    mean = pixels.reshape(-1, pixels.shape[-1])[:, :3].mean(axis=0) / 255
    return min(COLOURS, key=lambda name: float(np.sum((np.array(COLOURS[name]) - mean) ** 2)))


class ColourEncoder:
    """An :class:`~clipsearch.models.encoder.Encoder` whose vector is a picture's mean colour (and a
    text's, the mean of the colours it names). ``info`` is the real model's whose index it serves."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.images = 0  # pictures embedded: a test can see what was embedded again

    @property
    def logit_scale(self) -> float:
        return self.info.logit_scale

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        small = np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32) / 255
        return small.transpose(2, 0, 1)

    def _unit(self, rgb: np.ndarray) -> np.ndarray:
        vector = np.zeros(self.info.dim, np.float32)
        vector[:3] = rgb - 0.5  # around grey: red and white differ, not only in brightness
        vector[3] = 0.05
        return vector / np.linalg.norm(vector)

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        self.images += len(batch)
        return np.stack([self._unit(picture.reshape(3, -1).mean(axis=1)) for picture in batch])

    def encode_texts(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        rows = []
        for text in texts:
            named = [COLOURS[w] for w in text.lower().split() if w in COLOURS]
            rows.append(self._unit(np.mean(named, axis=0) if named else np.full(3, 0.5)))
        return np.stack(rows).astype(np.float32)


class ScriptedGate:
    """A text detector that finds one line across the middle of every picture whose colour has lines
    in ``lines`` (see :class:`ScriptedReader`), none elsewhere."""

    def __init__(self, lines: dict[str, list[str]]) -> None:
        self.lines = lines
        self.runtime = "scripted"

    def find_lines(self, picture: Any) -> list[tuple[float, float, float, float]]:
        return [(0.1, 0.4, 0.9, 0.6)] if self.lines.get(colour_of(picture)) else []


def scripted_reader(lines: dict[str, list[str]], *, fail: bool = False, seconds: float = 0.0,
                    started: list[int] | None = None) -> Callable[[int | None], Any]:  # fmt: skip
    """A factory of :class:`ScriptedReader` for ``OcrPool(reader=...)``; ``started`` gets the cores
    of each reader made."""

    class ScriptedReader(TextReader):
        """Reads ``lines[colour of the picture]``, one under the other; ``fail``: raises instead;
        ``seconds``: takes that long a picture. Latin script only, no turning."""

        name = "scripted"
        abilities = ReaderAbilities(scripts=frozenset({"Latn"}))

        def read(self, picture: Any) -> list[Any]:
            if fail:
                raise RuntimeError("the scripted engine fails")
            time.sleep(seconds)
            w, h = picture.size
            found = lines.get(colour_of(picture), [])
            return [([(0, h * i / 10), (w, h * i / 10), (w, h * (i + 1) / 10), (0, h * (i + 1) / 10)], text, 0.99)
                    for i, text in enumerate(found)]  # fmt: skip

        def recognise(self, crops: Sequence[Any]) -> list[tuple[str, float]]:
            return [(" ".join(text for _, text, _ in self.read(crop)), 0.99) for crop in crops]

    lock = threading.Lock()

    def make(threads: int | None) -> TextReader:
        with lock:
            if started is not None:
                started.append(threads or 0)
        return ScriptedReader(threads)

    return make


def scripted_ocr(lines: dict[str, list[str]], **how: Any) -> Any:
    """An ``OcrPool`` whose gate and reader are the scripted ones (see :func:`scripted_reader`)."""
    return OcrPool(reader=scripted_reader(lines, **how), gate=lambda threads: ScriptedGate(lines))
