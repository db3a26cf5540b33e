"""open_clip's eval-time image preprocessing, done with Pillow and numpy from the recorded model facts.

open_clip stays the definition: ``image_transform_v2`` with the model's ``PreprocessCfg``
(size, mean, std, interpolation, resize mode, fill colour). Its steps on a PIL image are Pillow
resizes, crops and pads followed by ``ToTensor`` and ``Normalize``; this module performs the same
steps (same rounding, same Pillow filters) without importing torch, so a process that runs the
model in ONNX Runtime never loads PyTorch and every runtime feeds the model identical pixels.
``tests/test_runtime.py`` checks the arrays against open_clip's own transform, mode by mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .registry import ModelInfo

_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
#: Documents are letterboxed on white: no part of a page may be cropped away.
DOCUMENT_FILL = 255
#: Past this ratio of long to short side a picture is letterboxed whatever the model's resize mode:
#: resizing a 1x20000 strip's short side to 256 px would make a 256x5,120,000 picture (4 GB). Up to
#: it the resize costs at most 256x16384 (12 MB) and is open_clip's own, pixel for pixel.
MAX_ASPECT = 64.0


@dataclass(frozen=True)
class Preprocessor:
    """Callable turning an RGB PIL image into the model's float32 (3, size, size) input."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"
    fill_color: int = 0

    @classmethod
    def for_model(cls, info: ModelInfo, letterbox: bool = False) -> Preprocessor:
        if letterbox:
            return cls(info.image_size, info.mean, info.std, info.interpolation, "longest", DOCUMENT_FILL)
        return cls(info.image_size, info.mean, info.std, info.interpolation, info.resize_mode, info.fill_color)

    def resized(self, image: Image.Image) -> Image.Image:
        """The geometric part (resize, crop or pad) as open_clip's transform does it for PIL input."""
        s = self.size
        flt = _FILTERS.get(self.interpolation.lower().rsplit(".", 1)[-1], Image.Resampling.BICUBIC)
        w, h = image.size
        if self.resize_mode == "squash":
            return image.resize((s, s), flt)
        if self.resize_mode == "longest" or max(w, h) > MAX_ASPECT * min(w, h):
            # ResizeKeepRatio(longest=1): size = round(side / max ratio), then CenterCropOrPad.
            # Never below one pixel: a 2x3000 page would round its width to nothing.
            ratio = max(h / s, w / s)
            image = image.resize((max(1, round(w / ratio)), max(1, round(h / ratio))), flt)
            return _center_crop_or_pad(image, s, self.fill_color)
        # 'shortest': torchvision Resize(int) keeps the short side at s and truncates the long one.
        new = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
        if new != (w, h):
            image = image.resize(new, flt)
        return _center_crop_or_pad(image, s, 0)

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(self.resized(image), dtype=np.float32)
        mean = np.asarray(self.mean, np.float32) * 255.0
        inv = 1.0 / (np.asarray(self.std, np.float32) * 255.0)
        return np.ascontiguousarray(((pixels - mean) * inv).transpose(2, 0, 1))


def _center_crop_or_pad(image: Image.Image, size: int, fill: int) -> Image.Image:
    """torchvision ``center_crop`` / open_clip ``center_crop_or_pad`` on a PIL image."""
    w, h = image.size
    if size > w or size > h:
        left, top = max(0, (size - w) // 2), max(0, (size - h) // 2)
        canvas = Image.new("RGB", (max(w, size), max(h, size)), (fill, fill, fill))
        canvas.paste(image, (left, top))
        image = canvas
        w, h = image.size
        if (w, h) == (size, size):
            return image
    top = round((h - size) / 2.0)
    left = round((w - size) / 2.0)
    return image.crop((left, top, left + size, top + size))
