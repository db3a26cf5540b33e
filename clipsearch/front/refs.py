"""How people name things to the front door: a model (flags or environment), a page of a PDF or a
frame of a video inside a path (``doc.pdf#page=3``, ``clip.mp4#t=12.5``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..config import ModelChoice

if TYPE_CHECKING:
    from ..models.registry import ModelRef


def requested_model(model: str | ModelChoice | None, pretrained: str | None = None) -> ModelRef | None:
    """The :class:`ModelRef` asked for by ``model`` or the environment, or None if nothing was asked."""
    from ..models.registry import resolve_model_ref

    choice = model if isinstance(model, ModelChoice) else ModelChoice(model, pretrained)
    choice = choice.from_environment()
    return resolve_model_ref(choice.name, choice.pretrained) if choice.asked else None


def parse_item_ref(spec: str) -> tuple[str, int | None, float | None]:
    """``"doc.pdf#page=3"`` -> (path, 3, None); ``"clip.mp4#t=12.5"`` -> (path, None, 12.5); an
    existing file's own name is never split (a file may be called ``a#t=1.jpg``)."""
    if os.path.exists(spec):
        return spec, None, None
    path, sep, frag = spec.rpartition("#t=")
    if sep and path:
        try:
            return path, None, float(frag)
        except ValueError:
            pass
    path, sep, frag = spec.rpartition("#page=")
    if sep and frag.isdigit() and path:
        return path, int(frag), None
    return spec, None, None
