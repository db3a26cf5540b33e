"""``embed``: the unit vectors of texts and pictures, as an index's model (or another) makes them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import ModelChoice, RuntimeChoice
from ..errors import ClipsearchError, UsageError
from .writer import EncoderLoader, handle_of, loader_for

if TYPE_CHECKING:
    from ..models.encoder import Encoder


def embed_by_model(
    model: str | ModelChoice, texts: Sequence[str] = (), images: Sequence[str] = (), *,
    run: RuntimeChoice | None = None, loader: EncoderLoader | None = None, language: str | None = None,
) -> list[dict[str, object]]:  # fmt: skip
    """Unit vectors for ``texts`` and pictures by ``model``, no index needed."""
    from ..models.language import flores_code
    from .refs import requested_model

    if not texts and not images:
        raise UsageError("give at least one --text or --image")
    run = run or RuntimeChoice()
    ref = requested_model(model)
    if ref is None:
        raise UsageError("name a model to embed with (--model), or an index")
    encoder = handle_of(loader_for(loader, run.runtime, run.precision)(ref, run.resolved_device))
    encoder = encoder.speaking(flores_code(language) if language else None)
    return embed_with(encoder, encoder, texts, images)


def embed_with(
    encoder: Encoder, text_encoder: Encoder, texts: Sequence[str] = (), images: Sequence[str] = ()
) -> list[dict[str, object]]:
    """``{"text", "vector"}`` and ``{"path" (absolute), "vector"}`` dicts, in the order given;
    pictures (paths, ``file.pdf#page=N``, ``clip.mp4#t=S``) as the indexer embeds them (documents
    letterboxed), so a vector here is the one the index holds for the same picture."""
    if not texts and not images:
        raise UsageError("give at least one --text or --image")
    out: list[dict[str, object]] = []
    if texts:
        if any(not t.strip() for t in texts):
            raise UsageError("empty --text")
        vectors = text_encoder.encode_texts(list(texts))
        out += [{"text": t, "vector": v.tolist()} for t, v in zip(texts, vectors, strict=True)]
    for spec in images:
        out.append(_embed_picture(encoder, spec))
    return out


def _embed_picture(encoder: Encoder, spec: str) -> dict[str, object]:
    from ..ingest.pdf import is_pdf_path
    from ..ingest.picture import is_document, item_picture
    from ..ingest.scan import absolute
    from .refs import parse_item_ref

    path, page, time = parse_item_ref(spec)
    full = absolute(path)
    if not os.path.isfile(full):
        raise UsageError(f"no such image file: {path}")
    page = page or (1 if is_pdf_path(full) else 0)
    try:
        picture = item_picture(full, page, time, encoder.info.image_size)
    except ClipsearchError as err:
        raise UsageError(f"cannot embed {spec}: {getattr(err, 'reason', err)}") from err
    vector = encoder.encode_images(encoder.preprocess(picture, letterbox=is_document(full, page))[None])[0]
    entry: dict[str, object] = {"path": full, "vector": vector.tolist()}
    if time is not None:
        entry["time"] = time
    elif page:
        entry["page"] = page
    return entry
