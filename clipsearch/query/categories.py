"""Zero-shot and few-shot categories, grouped in facets, with labels kept in the catalog.

A category is plain language: prompts are ensembled through templates (each normalised, averaged,
renormalised), the classic CLIP recipe. Each item gets, per facet, its best category and a
probability by the model's own rule: for CLIP models a softmax over the facet's categories at the
model's logit scale (they compare captions); for SigLIP models, trained with a sigmoid loss, each
category's own ``sigmoid(scale * cos + bias)``, so ``--threshold 0.5`` means "the model calls it a
match" rather than "beats the other categories". With labelled
examples, a linear probe (multinomial logistic regression on image vectors) is fitted for the facet
and used only where it beats the prompts on held-out examples; ``category list`` says which is used.

A category alone in its facet has no rival to lose to (a softmax of one is always 1), so it meets
the background: the captions "an object", "a thing", "something" (:data:`LONE_RIVAL`), and an item
carries it where it is the likelier of the two (``--threshold`` sets how much likelier, as in a
facet). Its examples, if any, add their mean look against the library's mean look to both sides.
SigLIP models score each category alone already; there a label needs its probability >= 0.5.

Everything needed to relabel is stored (category text vectors, example vectors, item vectors), so
changing a category relabels the whole index from the catalog without loading the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update

from ..errors import UsageError
from ..models.encoder import Encoder, normalise
from ..store.dialect import upsert
from ..store.folder import IndexStore
from ..store.schema import CATEGORIES, EXAMPLES, FACETS, LABELS

TEMPLATES = ["{}", "a photo of {}", "a drawing of {}", "a scan of {}", "a picture of {}", "an image of {}"]
BUILTIN_FACET = "doctype"
#: The doctype category whose pages get region vectors (title blocks) by default.
DRAWING = "technical drawing"
BUILTIN_DOCTYPES: dict[str, list[str]] = {
    "technical drawing": ["a technical drawing", "an engineering blueprint", "a mechanical drawing with dimensions"],
    "photo": ["a photo", "a photograph of a scene"],
    "text page": ["a page of text", "a printed text document"],
    "table": ["a table of numbers", "a spreadsheet"],
    "chart": ["a chart", "a bar chart or a line graph"],
    "blank page": ["a blank white page", "an empty page"],
}
MIN_EXAMPLES_FOR_PROBE = 2  # per category, so a held-out estimate means something
#: The rival of a category alone in its facet (CLIP-style models compare captions: a lone caption
#: always wins a softmax of one). Chosen on tiny-shapes among generic captions, a library's own
#: score distribution (z-scores, Otsu) and an open vocabulary as rivals: `make eval`, categories.
LONE_RIVAL = ["an object", "a thing", "something"]
BACKGROUND_KEY = "category_background"
#: How much a lone category's examples weigh against the words: pictures are closer to pictures
#: than to captions, so a look's margin is larger than a caption's (`make eval`, categories).
EXAMPLE_WEIGHT = 0.25


def prompt_texts(prompts: Sequence[str]) -> list[str]:
    """What a category embeds: every prompt through every template."""
    return [t.format(p.strip()) for p in prompts for t in TEMPLATES]


def ensemble(encoder: Encoder, prompts: Sequence[str]) -> np.ndarray:
    """One unit vector for a category: its prompt texts embedded, normalised and averaged."""
    return normalise(encoder.encode_texts(prompt_texts(prompts)).mean(axis=0))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_probe(x: np.ndarray, y: np.ndarray, k: int, l2: float = 1e-2, steps: int = 300) -> np.ndarray:
    """Multinomial logistic regression by gradient descent; returns W (k, dim+1), bias last."""
    x1 = np.hstack([x * 10.0, np.ones((len(x), 1), np.float32)])  # unit vectors: scale up the logits
    onehot = np.eye(k, dtype=np.float32)[y]
    w = np.zeros((k, x1.shape[1]), dtype=np.float32)
    for _ in range(steps):
        grad = (softmax(x1 @ w.T) - onehot).T @ x1 / len(x1) + l2 * w
        w -= 0.5 * grad
    return w


def probe_logits(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (x * 10.0) @ w[:, :-1].T + w[:, -1]


def _held_out_accuracy(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Leave-one-out (up to 5 folds for many examples) accuracy of a probe on the examples."""
    folds = min(len(x), 5)
    order = np.arange(len(x))
    hits = 0
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        w = fit_probe(x[train], y[train], k)
        hits += int((probe_logits(w, x[test]).argmax(1) == y[test]).sum())
    return hits / len(x)


@dataclass(frozen=True)
class CategoryRow:
    id: int
    name: str
    facet: str
    prompts: list[str]
    threshold: float | None
    vector: np.ndarray
    builtin: bool


def _described(row: CategoryRow, items: int, examples: int, total: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": row.name, "prompts": row.prompts, "threshold": row.threshold,
                           "examples": examples, "items": items, "builtin": row.builtin}  # fmt: skip
    if total >= NEARLY_ALL_FROM and items >= NEARLY_ALL * total:
        out["warning"] = (f"holds {items} of {total} items: a label that nearly everything carries filters "
                          "nothing; give it a rival in its facet, examples, or a higher --threshold")  # fmt: skip
    return out


#: A category holding this share of a library of at least NEARLY_ALL_FROM items is said to.
NEARLY_ALL = 0.9
NEARLY_ALL_FROM = 20


class Categories:
    """Categories and labels of one index. Writers hold the store's lock."""

    def __init__(self, store: IndexStore, encoder: Encoder | None = None) -> None:
        self.store = store
        self.engine = store.catalog.engine
        self.dim = store.model.dim
        #: the model's text side, for the one vector not stored yet (a lone category's background)
        self._encoder = encoder

    # ------------------------------------------------------------------ reading
    def rows(self, facet: str | None = None) -> list[CategoryRow]:
        q = select(CATEGORIES).order_by(CATEGORIES.c.facet, CATEGORIES.c.id)
        if facet is not None:
            q = q.where(CATEGORIES.c.facet == facet)
        with self.engine.connect() as conn:
            return [
                CategoryRow(
                    r.id, r.name, r.facet, json.loads(r.prompts), r.threshold,
                    np.frombuffer(r.text_vector, np.float32), bool(r.builtin),
                )
                for r in conn.execute(q)
            ]  # fmt: skip

    def get(self, name: str) -> CategoryRow:
        for row in self.rows():
            if row.name == name:
                return row
        known = ", ".join(sorted(r.name for r in self.rows())) or "none defined"
        raise UsageError(f"no category named {name!r} (known: {known})")

    def facets(self) -> list[str]:
        return sorted({r.facet for r in self.rows()})

    def examples(self, facet: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(vectors, class index within the facet, category ids in class order)."""
        cats = [r.id for r in self.rows(facet)]
        with self.engine.connect() as conn:
            rows = conn.execute(select(EXAMPLES).where(EXAMPLES.c.category_id.in_(cats))).all()
        x = np.array([np.frombuffer(r.vector, np.float32) for r in rows], dtype=np.float32).reshape(-1, self.dim)
        y = np.array([cats.index(r.category_id) for r in rows], dtype=np.int64)
        return x, y, cats

    def facet_info(self, facet: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            r = conn.execute(select(FACETS).where(FACETS.c.name == facet)).first()
        if r is None:
            return {"name": facet, "method": "zero-shot", "zero_shot_accuracy": None, "probe_accuracy": None}
        return {
            "name": facet,
            "method": r.method,
            "zero_shot_accuracy": r.zero_shot_accuracy,
            "probe_accuracy": r.probe_accuracy,
        }

    def describe(self) -> list[dict[str, Any]]:
        """Facets with their method and categories (prompts, examples, items labelled)."""
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(LABELS.c.category_id, func.count()).group_by(LABELS.c.category_id)).all())
            n_examples = dict(
                conn.execute(select(EXAMPLES.c.category_id, func.count()).group_by(EXAMPLES.c.category_id)).all()
            )
        total = self.store.catalog.count()
        out = []
        for facet in self.facets():
            info = self.facet_info(facet)
            rows = self.rows(facet)
            info["alone"] = len(rows) == 1  # decided against the background (LONE_RIVAL), not a rival of its own
            info["categories"] = [_described(r, counts.get(r.id, 0), n_examples.get(r.id, 0), total) for r in rows]
            out.append(info)
        return out

    # ------------------------------------------------------------------ writing
    def add(
        self,
        name: str,
        *,
        facet: str,
        prompts: Sequence[str],
        encoder: Encoder,
        threshold: float | None = None,
        examples: Iterable[tuple[str, int, np.ndarray]] = (),
        builtin: bool = False,
        relabel: bool = True,
        text_vector: np.ndarray | None = None,
    ) -> None:
        """Create or redefine a category; ``examples`` are (path, page, vector). Relabels its facet."""
        name = name.strip()
        if not name:
            raise UsageError("a category needs a name")
        prompts = [p for p in prompts if p.strip()] or [name]
        if threshold is not None and not 0 <= threshold <= 1:
            raise UsageError("--threshold is a probability between 0 and 1")
        vector = text_vector if text_vector is not None else ensemble(encoder, prompts)
        self._encoder = self._encoder or encoder
        self._background()  # kept now, while the model is at hand: a facet left with one category needs it
        values = {
            "name": name, "facet": facet, "prompts": json.dumps(prompts), "threshold": threshold,
            "text_vector": vector.astype(np.float32).tobytes(), "builtin": int(builtin),
        }  # fmt: skip
        with self.engine.begin() as conn:
            old = conn.execute(select(CATEGORIES.c.id, CATEGORIES.c.facet).where(CATEGORIES.c.name == name)).first()
            if old is not None and old.facet != facet:  # a name is one category: never taken from another facet
                raise UsageError(f"a category named {name!r} is in facet {old.facet!r} already: choose another "
                                 f"name, or --facet {old.facet!r} to redefine it")  # fmt: skip
            if old is None:
                cat_id = conn.execute(CATEGORIES.insert().values(**values)).inserted_primary_key[0]
            else:
                cat_id = old.id
                conn.execute(update(CATEGORIES).where(CATEGORIES.c.id == cat_id).values(**values))
            rows = [
                {"category_id": cat_id, "path": p, "page": pg, "vector": np.asarray(v, np.float32).tobytes()}
                for p, pg, v in examples
            ]
            if rows:
                conn.execute(EXAMPLES.insert(), rows)
        if relabel:
            self.refit(facet)
            self.label(facets=[facet])

    def remove(self, name: str) -> None:
        row = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(delete(LABELS).where(LABELS.c.facet == row.facet))
            conn.execute(delete(CATEGORIES).where(CATEGORIES.c.id == row.id))
        self.refit(row.facet)
        self.label(facets=[row.facet])

    def ensure_builtin(self, encoder: Encoder) -> None:
        """The doctype facet for pages, created once per index (removing it later is respected)."""
        if self.store.catalog.get_meta("builtin_categories") is not None:
            return
        texts = {name: prompt_texts(prompts) for name, prompts in BUILTIN_DOCTYPES.items()}
        vectors = encoder.encode_texts([t for ts in texts.values() for t in ts])  # one batch for all 78
        start = 0
        for name, prompts in BUILTIN_DOCTYPES.items():
            mean = normalise(vectors[start : start + len(texts[name])].mean(axis=0))
            start += len(texts[name])
            self.add(name, facet=BUILTIN_FACET, prompts=prompts, encoder=encoder, builtin=True, relabel=False,
                     text_vector=mean)  # fmt: skip
        self.store.catalog.set_meta("builtin_categories", "doctype-v1")
        self.label(facets=[BUILTIN_FACET])

    def refit(self, facet: str) -> None:
        """Choose zero-shot prompts or a linear probe for ``facet`` by accuracy on held-out examples."""
        cats = self.rows(facet)
        x, y, _ = self.examples(facet)
        per_class = np.bincount(y, minlength=len(cats)) if len(y) else np.zeros(len(cats), int)
        method, probe, zs_acc, probe_acc = "zero-shot", None, None, None
        if len(cats) == 1 and len(y):  # alone: its examples' look against the library's, beside the words
            method, probe = "examples", np.stack([normalise(x.mean(axis=0)), self._library_look()]).tobytes()
        if len(cats) >= 2 and len(y):
            text = np.stack([c.vector for c in cats])
            zs_acc = float(((x @ text.T).argmax(1) == y).mean())
            if per_class.min() >= MIN_EXAMPLES_FOR_PROBE:
                probe_acc = _held_out_accuracy(x, y, len(cats))
                if probe_acc > zs_acc:
                    method, probe = "probe", fit_probe(x, y, len(cats)).astype(np.float32).tobytes()
        values = {"method": method, "probe": probe, "zero_shot_accuracy": zs_acc, "probe_accuracy": probe_acc}
        with self.engine.begin() as conn:
            upsert(conn, FACETS, [{"name": facet, **values}], ["name"])

    def _classifier(
        self, facet: str, cats: list[CategoryRow] | None = None
    ) -> tuple[list[CategoryRow], Callable[[np.ndarray], np.ndarray]]:
        """The facet's categories (``cats`` when already read) and a function vectors ->
        probabilities (n, k), read once."""
        cats = self.rows(facet) if cats is None else cats
        with self.engine.connect() as conn:
            r = conn.execute(select(FACETS).where(FACETS.c.name == facet)).first()
        if r is not None and r.method == "examples" and r.probe is not None and len(cats) == 1:
            looks = np.frombuffer(r.probe, np.float32).reshape(2, self.dim)
            pair = np.stack([cats[0].vector, self._background()])
            scale = self.store.model.logit_scale
            return cats, lambda vectors: softmax(scale * (vectors @ pair.T + EXAMPLE_WEIGHT * vectors @ looks.T))[:, :1]
        if r is not None and r.method == "probe" and r.probe is not None:
            w = np.frombuffer(r.probe, np.float32).reshape(len(cats), self.dim + 1)
            return cats, lambda vectors: softmax(probe_logits(w, vectors))
        text = np.stack([c.vector for c in cats])
        model = self.store.model
        scale = model.logit_scale
        if model.sigmoid:  # SigLIP: each category's own match probability, the model's rule
            bias = model.logit_bias
            return cats, lambda vectors: 1.0 / (1.0 + np.exp(-(scale * vectors @ text.T + bias)))
        if len(cats) == 1:  # alone, against the background: "something" (LONE_RIVAL), as a facet's rival
            rival = np.vstack([text, self._background()])
            return cats, lambda vectors: softmax(scale * vectors @ rival.T)[:, :1]
        return cats, lambda vectors: softmax(scale * vectors @ text.T)

    def _library_look(self) -> np.ndarray:
        """The mean picture of the library, the rival of a lone category's examples."""
        total, count = np.zeros(self.dim, np.float64), 0
        for _, vectors in self.store.catalog.all_vectors(self.dim):
            total += vectors.sum(axis=0)
            count += len(vectors)
        return normalise(total.astype(np.float32)) if count else np.zeros(self.dim, np.float32)

    def _background(self) -> np.ndarray:
        """The rival of a category alone in its facet, embedded once and kept in the catalog."""
        stored = self.store.catalog.get_meta(BACKGROUND_KEY)
        if stored is not None:
            vector = np.frombuffer(bytes.fromhex(stored), np.float32)
            if vector.shape == (self.dim,):
                return vector
        if self._encoder is None:
            raise UsageError("the model is needed once to embed the background of a lone category")
        vector = ensemble(self._encoder, LONE_RIVAL).astype(np.float32)
        self.store.catalog.set_meta(BACKGROUND_KEY, vector.tobytes().hex())
        return vector

    def probabilities(self, facet: str, vectors: np.ndarray) -> tuple[list[CategoryRow], np.ndarray]:
        """(categories, probabilities (n, k)) for ``vectors`` in ``facet``."""
        cats, classify = self._classifier(facet)
        return cats, classify(vectors)

    def is_category(self, name: str, vectors: np.ndarray) -> np.ndarray:
        """Whether each vector's best category in ``name``'s facet is ``name`` (all False if undefined)."""
        rows = [r for r in self.rows() if r.name == name]
        if not rows or not len(vectors):
            return np.zeros(len(vectors), bool)
        cats, probs = self.probabilities(rows[0].facet, vectors)
        ids = np.array([c.id for c in cats])
        return ids[probs.argmax(1)] == rows[0].id

    def label(self, ids: Sequence[int] | None = None, facets: Sequence[str] | None = None) -> int:
        """(Re)compute labels from stored vectors: for ``ids`` (default all items), ``facets`` (default all)."""
        facets = list(facets) if facets is not None else self.facets()
        if not facets:
            return 0
        chunks = (
            self.store.catalog.all_vectors(self.dim)
            if ids is None
            else [(np.asarray(ids, np.int64), self.store.catalog.vectors(list(ids), self.dim))]
        )
        classifiers = {f: self._classifier(f, cats) for f in facets if (cats := self.rows(f))}
        written = 0
        with self.engine.begin() as conn:
            for facet in facets:
                if ids is None:
                    conn.execute(delete(LABELS).where(LABELS.c.facet == facet))
            for chunk_ids, vectors in chunks:
                rows = []
                for facet, (cats, classify) in classifiers.items():
                    probs = classify(vectors)
                    # alone (or scored one by one, SigLIP), a category must be the likelier answer
                    lone_default = 0.5 if len(cats) == 1 or self.store.model.sigmoid else None
                    best = probs.argmax(1)
                    for item_id, b, p in zip(chunk_ids.tolist(), best.tolist(), probs.max(1).tolist(), strict=True):
                        cat = cats[b]
                        least = cat.threshold if cat.threshold is not None else lone_default
                        keep = least is None or p >= least
                        rows.append({"item_id": item_id, "facet": facet, "category_id": cat.id if keep else None,
                                     "prob": float(p)})  # fmt: skip
                if rows:
                    upsert(conn, LABELS, rows, ["item_id", "facet"])
                    written += len(rows)
        return written

    # ------------------------------------------------------------------ querying
    def ids_in(self, names: Sequence[str]) -> np.ndarray:
        """Items labelled with any of ``names`` within a facet, and with all the facets named."""
        by_facet: dict[str, list[int]] = {}
        for name in names:
            row = self.get(name)
            by_facet.setdefault(row.facet, []).append(row.id)
        result: np.ndarray | None = None
        with self.engine.connect() as conn:
            for facet, cat_ids in by_facet.items():
                q = select(LABELS.c.item_id).where(LABELS.c.facet == facet, LABELS.c.category_id.in_(cat_ids))
                ids = np.fromiter((r[0] for r in conn.execute(q)), dtype=np.int64)
                result = ids if result is None else np.intersect1d(result, ids)
        return result if result is not None else np.zeros(0, np.int64)

    def labels_for(self, ids: Sequence[int]) -> dict[int, dict[str, str]]:
        names = {r.id: r.name for r in self.rows()}
        out: dict[int, dict[str, str]] = {}
        with self.engine.connect() as conn:
            q = select(LABELS).where(LABELS.c.item_id.in_(list(ids)), LABELS.c.category_id.is_not(None))
            for r in conn.execute(q):
                out.setdefault(r.item_id, {})[r.facet] = names[r.category_id]
        return out
