"""Which results the model itself calls a match (``search --relevant``), instead of a flat cut-off.

A cosine of 0.25 is a fine match for one model and noise for another ("a flat cutoff doesn't really
work", Immich PR #31572), so the rule comes from the model:
- **SigLIP-style models** (a learned ``logit_bias``) are trained so that ``sigmoid(scale·cos + bias)``
  is the probability that the text describes the picture: a match is p > 0.5.
- **CLIP models** were trained with a softmax over captions, so they can only say which caption fits
  better. The rule: a picture matches when the query fits it better than every one of a few neutral
  captions (:data:`NEUTRAL`) — the model's own softmax over {query, neutral captions} puts the query
  first. A vague query ("a photo") keeps little; a specific one keeps the pictures that show it.
Image queries and text-only hits are kept as they are: there is no caption to weigh them against.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from .search import Searcher, SearchResult

#: Captions that describe any picture a little: a query must describe it better than all of them.
NEUTRAL = ("a photo", "a picture", "an image", "a photo of something", "a scan of a page", "a drawing")


def matches(searcher: Searcher, query: str, hits: list[SearchResult]) -> list[SearchResult]:
    """``hits`` that the model calls a match for the text ``query`` (see the module docstring)."""
    if not hits or (searcher.reads_files and os.path.isfile(query)):
        return hits
    cos, cut = _cosines_and_cutoffs(searcher, query, hits)
    return [h for h, c, k in zip(hits, cos, cut, strict=True) if c > k]


def explained(searcher: Searcher, query: str, hits: list[SearchResult]) -> list[SearchResult]:
    """``hits`` with the cosine each would need to be a match (``relevance_cutoff``): the line
    ``--relevant`` draws, shown beside the score so a person sees why a result made it or not."""
    if not hits or (searcher.reads_files and os.path.isfile(query)):
        return hits
    _, cut = _cosines_and_cutoffs(searcher, query, hits)
    return [replace(h, relevance_cutoff=round(float(k), 4)) for h, k in zip(hits, cut, strict=True)]


def _cosines_and_cutoffs(searcher: Searcher, query: str, hits: list[SearchResult]) -> tuple[np.ndarray, np.ndarray]:
    """Each hit's cosine to the text ``query``, and the cosine the model's rule asks of it."""
    store = searcher.store
    images = store.catalog.vectors([h.id for h in hits], store.model.dim)
    cos = images @ searcher.text_vector(query)
    model = store.model
    if model.sigmoid:  # sigmoid-trained: p > 0.5 where scale * cos + bias > 0
        return cos, np.full(len(hits), -model.logit_bias / model.logit_scale, np.float32)
    neutral = searcher.encoder.encode_texts(list(NEUTRAL))
    return cos, (images @ neutral.T).max(axis=1)
