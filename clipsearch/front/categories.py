"""An index's categories as its :class:`~.index.Index` shows them: list, show, add, remove."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.encoder import Encoder
    from ..query.search import Searcher


class CategoriesView:
    """``ix.categories``: zero-shot and few-shot categories, grouped in facets (used by filters).

    ``writing``: the index's writer lock for one call; ``searcher``: its query side (model, vectors)."""

    def __init__(self, searcher: Searcher, writing: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self._searcher = searcher
        self._writing = writing

    def _categories(self) -> Any:
        from ..query.categories import Categories

        return Categories(self._searcher.store)

    def list(self) -> list[dict[str, Any]]:
        """Facets, the method each uses (zero-shot or probe), their accuracy on examples, and their
        categories with prompts, examples and items labelled (``category list --json``)."""
        return self._categories().describe()

    def names(self) -> frozenset[str]:
        return frozenset(row.name for row in self._categories().rows())

    def show(self, name: str) -> dict[str, Any]:
        """One category: facet, method, prompts, threshold, examples, items labelled."""
        categories = self._categories()
        for facet in categories.describe():
            for cat in facet["categories"]:
                if cat["name"] == name:
                    return {**cat, "facet": facet["name"], "method": facet["method"]}
        categories.get(name)  # raises, naming the known categories
        raise AssertionError("unreachable")

    def add(
        self, name: str, *, facet: str = "subject", prompts: Sequence[str] = (), examples: Sequence[str] = (),
        threshold: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Define or redefine ``name`` (``examples``: image paths or ``file.pdf#page=N``); every
        item is relabelled from its stored vector. Returns :meth:`show` of it."""
        from .refs import parse_item_ref

        with self._writing():
            encoder: Encoder = self._searcher.encoder
            vectors = []
            for spec in examples:
                path, page, _ = parse_item_ref(spec)
                vectors.append((path, page or 0, self._searcher.image_vector(path, page)))
            self._categories().add(name, facet=facet, prompts=prompts, encoder=encoder, threshold=threshold,
                                   examples=vectors)  # fmt: skip
        return self.show(name)

    def remove(self, name: str) -> None:
        """Delete ``name``; its facet is relabelled."""
        with self._writing():
            self._categories().remove(name)

    def labels_for(self, ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """Each item's label per facet."""
        return self._categories().labels_for(ids)
