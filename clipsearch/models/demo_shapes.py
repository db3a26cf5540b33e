"""Coloured shapes drawn by a renderer of their own, for the tiny-shapes model's held-out checks.

This is deliberately *not* the code that drew the training images (``tools/train_tiny_shapes.py``
uses PIL's ImageDraw with its own colour model): shapes here are rasterised with numpy inside-tests
and supersampling, colours come from fixed RGB anchors, and backgrounds include gradients the
training renderer never made. Accuracy measured on these images is about generalisation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COLOURS = ["red", "orange", "yellow", "green", "blue", "purple"]
SHAPES = ["circle", "square", "triangle", "star", "cross"]

_ANCHORS = {
    "red": (214, 32, 40),
    "orange": (243, 135, 28),
    "yellow": (238, 212, 36),
    "green": (46, 166, 64),
    "blue": (34, 84, 216),
    "purple": (136, 52, 186),
}


@dataclass(frozen=True)
class ShapeImage:
    path: Path
    colour: str
    shape: str


def _inside_polygon(x: np.ndarray, y: np.ndarray, verts: Sequence[tuple[float, float]]) -> np.ndarray:
    """Even-odd ray casting, vectorised over all sample points."""
    inside = np.zeros(x.shape, dtype=bool)
    n = len(verts)
    for i in range(n):
        x1, y1 = verts[i]
        x2, y2 = verts[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < xint)
    return inside


def _outline(shape: str) -> list[tuple[float, float]]:
    if shape == "square":
        return [(-0.7, -0.7), (0.7, -0.7), (0.7, 0.7), (-0.7, 0.7)]
    if shape == "triangle":
        return [(0.0, -1.0), (0.866, 0.5), (-0.866, 0.5)]
    if shape == "star":
        pts = []
        for k in range(10):
            radius = 1.0 if k % 2 == 0 else 0.45
            a = math.pi / 2 + k * math.pi / 5
            pts.append((radius * math.cos(a), -radius * math.sin(a)))
        return pts
    if shape == "cross":
        a, b = 0.33, 0.95
        return [
            (-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a),
            (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a),
        ]  # fmt: skip
    raise ValueError(shape)


def _mask(shape: str, width: int, height: int, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    ss = 4  # supersampling factor per axis
    ys, xs = np.mgrid[0 : height * ss, 0 : width * ss]
    u = (xs + 0.5) / ss - cx
    v = (ys + 0.5) / ss - cy
    c, s = math.cos(-angle), math.sin(-angle)
    x = (u * c - v * s) / radius
    y = (u * s + v * c) / radius
    hit = (x * x + y * y <= 1.0) if shape == "circle" else _inside_polygon(x, y, _outline(shape))
    return hit.reshape(height, ss, width, ss).mean(axis=(1, 3))


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(4)
    if kind == 0:
        return np.full((height, width, 3), 255.0)
    tint = 235 + rng.uniform(0, 20, size=3)
    bg = np.ones((height, width, 3)) * tint
    if kind == 2:  # linear gradient between two light tints
        other = 225 + rng.uniform(0, 30, size=3)
        t = np.linspace(0, 1, width)[None, :, None]
        bg = bg * (1 - t) + other * t
    elif kind == 3:
        bg = bg + rng.normal(0, 8, size=(height, width, 1))
    return bg


def draw(colour: str, shape: str, rng: np.random.Generator) -> Any:
    """One PIL image with a single filled shape of the given colour."""
    from PIL import Image

    width = int(rng.integers(64, 161))
    height = int(np.clip(width * rng.uniform(0.65, 1.5), 48, 200))
    radius = rng.uniform(0.25, 0.65) * min(width, height) / 2
    cx = rng.uniform(radius, width - radius)
    cy = rng.uniform(radius, height - radius)
    mask = _mask(shape, width, height, cx, cy, radius, rng.uniform(0, 2 * math.pi))[..., None]
    fill = np.clip(np.array(_ANCHORS[colour]) + rng.normal(0, 10, size=3), 0, 255)
    pixels = _background(width, height, rng) * (1 - mask) + fill * mask
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def generate_folder(
    folder: str | os.PathLike[str], per_class: int = 3, seed: int = 7, jpeg_every: int = 3
) -> list[ShapeImage]:
    """Write ``per_class`` images of each colour x shape into ``folder`` (names say what they show)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    made = []
    n = 0
    for colour in COLOURS:
        for shape in SHAPES:
            for k in range(per_class):
                image = draw(colour, shape, rng)
                ext = "jpg" if n % jpeg_every == 0 else "png"
                path = out / f"{colour}_{shape}_{k:02d}.{ext}"
                image.save(path, quality=int(rng.integers(60, 95))) if ext == "jpg" else image.save(path)
                made.append(ShapeImage(path, colour, shape))
                n += 1
    return made


def evaluate(encoder: Any = None, per_class: int = 10, seed: int = 2024) -> dict[str, float]:
    """Zero-shot shape and colour accuracy (one prompt per class, argmax) and text->image precision.

    Precision: for each "a {colour} {shape}" query, the share of the ``per_class`` best-ranked
    held-out images that are of that colour and shape, averaged over the 30 queries.
    """
    from .registry import resolve_model_ref
    from .runtimes import load_encoder

    enc = encoder or load_encoder(resolve_model_ref("tiny-shapes"), "cpu")
    rng = np.random.default_rng(seed)
    labels = [(c, s) for c in COLOURS for s in SHAPES for _ in range(per_class)]
    batch = np.stack([enc.preprocess(draw(c, s, rng)) for c, s in labels])
    img = enc.encode_images(batch)
    shape_txt = enc.encode_texts([f"a {s}" for s in SHAPES])
    colour_txt = enc.encode_texts([f"a {c} shape" for c in COLOURS])
    pred_shape = (img @ shape_txt.T).argmax(1)
    pred_colour = (img @ colour_txt.T).argmax(1)
    shape_acc = float(np.mean([SHAPES[p] == s for p, (_, s) in zip(pred_shape, labels, strict=True)]))
    colour_acc = float(np.mean([COLOURS[p] == c for p, (c, _) in zip(pred_colour, labels, strict=True)]))
    queries = [(c, s) for c in COLOURS for s in SHAPES]
    q = enc.encode_texts([f"a {c} {s}" for c, s in queries])
    ranks = np.argsort(-(q @ img.T), axis=1)[:, :per_class]
    precision = float(np.mean([[labels[i] == qs for i in row] for row, qs in zip(ranks, queries, strict=True)]))
    return {
        "shape_accuracy": round(shape_acc, 4),
        "colour_accuracy": round(colour_acc, 4),
        "precision": round(precision, 4),
        "images": len(labels),
    }
