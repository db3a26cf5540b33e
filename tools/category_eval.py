#!/usr/bin/env python3
"""`make eval`, categories: how well a category labels what it describes, measured on pictures the
model was not trained on (``demo_shapes``: 6 colours x 5 shapes, drawn by other code) with the
trained ``tiny-shapes`` model, through ``Index.categories`` as a user defines them.

- lone: one category alone in its facet ("red things" = "a red shape"), its precision and recall
  on the shapes, and on the shapes with the sample corpus beside them (photos, drawings, PDF pages:
  a category of shapes must not take them); ``with_examples``: the same with 3 example pictures;
  ``no_rival``: what a lone category labels with no rival at all (everything: a softmax of one);
- rules: the rules measured to choose the lone category's rival, on the same vectors: the
  background caption (chosen), the library's own scores as a z-score (> 2.5) and Otsu's split;
- facet: six colour categories in one facet, as before (accuracy).

Run alone: ``python tools/category_eval.py [--per-class N]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"

#: (name, prompt, which shape names it describes)
LONE: list[tuple[str, str, Callable[[str], bool]]] = [
    ("red things", "a red shape", lambda n: n.startswith("red_")),
    ("stars", "a star", lambda n: "_star_" in n),
    ("circles", "a circle", lambda n: "_circle_" in n),
    ("green things", "a green shape", lambda n: n.startswith("green_")),
    ("blue squares", "a blue square", lambda n: n.startswith("blue_square")),
]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]


def _scores(labelled: set[int], truth: dict[int, bool], among: set[int]) -> dict[str, float]:
    got = labelled & among
    right = {i for i in got if truth[i]}
    wanted = {i for i in among if truth[i]}
    return {"labelled": len(got), "precision": round(len(right) / max(len(got), 1), 3),
            "recall": round(len(right) / max(len(wanted), 1), 3)}  # fmt: skip


def _members(ix: object, name: str) -> set[int]:
    """The items a search filtered by category ``name`` returns (as `search --category` does)."""
    from clipsearch.front.index import Filters

    return {r.id for r in ix.search(None, filters=Filters(include=(name,)), k=10_000)}  # type: ignore[attr-defined]


def _otsu(x: np.ndarray) -> float:
    xs = np.sort(x)
    best, cut = -1.0, float(xs[0])
    for i in range(1, len(xs)):
        a, b = xs[:i], xs[i:]
        between = len(a) * len(b) * (a.mean() - b.mean()) ** 2
        if between > best:
            best, cut = between, float((xs[i - 1] + xs[i]) / 2)
    return cut


def run(per_class: int = 4) -> dict[str, object]:
    from clipsearch.front.index import Index
    from clipsearch.models.demo_shapes import generate_folder
    from clipsearch.query.categories import LONE_RIVAL, ensemble

    out: dict[str, object] = {"model": "tiny-shapes", "per_class": per_class}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate_folder(work / "shapes", per_class=per_class, seed=21)
        shutil.copytree(CORPUS, work / "corpus")
        with Index.create("eval", work / "home", model="tiny-shapes") as ix:
            ix.add([str(work / "shapes"), str(work / "corpus")])
            rows = {r.id: r for r in ix.store.catalog.items()}
            names = {i: Path(r.path).stem for i, r in rows.items()}
            shapes = {i for i, r in rows.items() if "/shapes/" in r.path}
            every = set(rows)
            ids = np.array(sorted(rows))
            vectors = ix.store.catalog.vectors(ids.tolist(), ix.store.model.dim)
            encoder = ix.query_encoder()
            background = ensemble(encoder, LONE_RIVAL)
            lone, rules = {}, {}
            for name, prompt, describes in LONE:
                truth = {i: i in shapes and describes(names[i]) for i in rows}
                ix.categories.add(name, facet=f"lone {name}", prompts=[prompt])
                labelled = _members(ix, name)
                examples = [str(rows[i].path) for i in sorted(i for i in shapes if truth[i])[:3]]
                ix.categories.add(name, facet=f"lone {name}", prompts=[prompt], examples=examples)
                sharpened = _members(ix, name)
                ix.categories.remove(name)
                lone[name] = {"shapes": _scores(labelled, truth, shapes),
                              "with_corpus": _scores(labelled, truth, every),
                              "with_examples": _scores(sharpened, truth, every),
                              "no_rival": _scores(every, truth, every)}  # fmt: skip
                cos = vectors @ ensemble(encoder, [prompt])
                med = np.median(cos)
                spread = 1.4826 * np.median(np.abs(cos - med))
                measured = {"background": cos > vectors @ background, "z_2.5": (cos - med) / spread > 2.5,
                            "otsu": cos > _otsu(cos)}  # fmt: skip
                rules[name] = {rule: _scores(set(ids[mask].tolist()), truth, every) for rule, mask in measured.items()}
            out["lone"], out["rules"] = lone, rules
            for colour in COLOURS:
                ix.categories.add(colour, facet="colour", prompts=[f"a {colour} shape"])
            labels = ix.categories.labels_for(sorted(shapes))
            right = sum(labels.get(i, {}).get("colour") == names[i].split("_")[0] for i in shapes)
            out["facet"] = {"categories": len(COLOURS), "accuracy": round(right / len(shapes), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=4, help="pictures per colour and shape (4: 120)")
    print(json.dumps(run(parser.parse_args().per_class), indent=1))


if __name__ == "__main__":
    main()
