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

import numpy as np

from .search import Searcher, SearchResult

#: Captions that describe any picture a little: a query must describe it better than all of them.
NEUTRAL = ("a photo", "a picture", "an image", "a photo of something", "a scan of a page", "a drawing")


def matches(searcher: Searcher, query: str, hits: list[SearchResult]) -> list[SearchResult]:
    """``hits`` that the model calls a match for the text ``query`` (see the module docstring)."""
    if not hits or os.path.isfile(query):
        return hits
    store = searcher.store
    images = store.catalog.vectors([h.id for h in hits], store.model.dim)
    q = searcher.text_vector(query)
    cos = images @ q
    model = store.model
    if model.sigmoid:  # sigmoid-trained: the model's own probability
        keep = 1.0 / (1.0 + np.exp(-(model.logit_scale * cos + model.logit_bias))) > 0.5
    else:
        neutral = searcher.encoder.encode_texts(list(NEUTRAL))
        keep = cos > (images @ neutral.T).max(axis=1)
    return [h for h, k in zip(hits, keep, strict=True) if k]
