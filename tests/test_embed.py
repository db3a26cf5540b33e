"""`clipsearch embed`: the vectors the index holds and the ones its queries use, for pipelines."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from clipsearch.config import IndexLocation
from clipsearch.store.folder import IndexStore

CORPUS = Path(__file__).parent / "corpus"


def _stored(home: Path, path: Path, page: int = 0) -> np.ndarray:
    store = IndexStore.open(IndexLocation(home, "default"))
    try:
        row = next(r for r in store.catalog.find_path(str(path)) if r.page == page)
        return store.catalog.vectors([row.id], store.model.dim)[0]
    finally:
        store.close()


def test_embed_gives_the_vectors_the_index_holds_and_searches_with(cli, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(CORPUS / "photos" / "coffee.png", folder / "coffee.png")
    shutil.copy(CORPUS / "documents" / "pdflatex-4-pages.pdf", folder / "doc.pdf")
    # fp32: int8 quantises activations per batch, so a page embedded alone and in a batch differ (~1e-4)
    cli.json("index", str(folder), "--model", "tiny-shapes", "--precision", "fp32")
    out = cli.json("embed", "--text", "a red circle", "--image", str(folder / "coffee.png"),
                   "--image", f"{folder / 'doc.pdf'}#page=2")  # fmt: skip
    assert [e.get("text") or e["path"] for e in out] == [
        "a red circle",
        str(folder / "coffee.png"),
        str(folder / "doc.pdf"),
    ]
    vectors = [np.asarray(e["vector"], np.float32) for e in out]
    assert all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in vectors)
    assert float(vectors[1] @ _stored(cli.home, folder / "coffee.png")) > 0.9999
    assert float(vectors[2] @ _stored(cli.home, folder / "doc.pdf", 2)) > 0.9999  # a page letterboxed as indexed
    assert out[2]["page"] == 2
    best = cli.json("search", "a red circle", "-k", "1")[0]
    stored = _stored(cli.home, Path(best["path"]), best.get("page", 0))
    assert abs(float(vectors[0] @ stored) - best["score"]) < 1e-4  # the text vector search itself uses


def test_embed_with_a_model_needs_no_index_and_mistakes_are_one_line(cli, tmp_path):
    out = cli.json("embed", "--model", "tiny-shapes", "--text", "a blue star", "--text", "a green square")
    assert len(out) == 2 and len(out[0]["vector"]) == 64
    table = cli("embed", "--model", "tiny-shapes", "--text", "a blue star").stdout
    assert table.startswith("64-dim  [") and table.rstrip().endswith("a blue star")
    for args, code in ((["--model", "tiny-shapes"], 2), (["--model", "tiny-shapes", "--image", "/no/such.png"], 2),
                       (["--text", "x"], 3)):  # fmt: skip
        result = cli("embed", *args, ok=False)
        assert result.exit_code == code and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_named_index_embeds_with_its_own_model_whatever_the_environment_names(cli, tmp_path, tiny_model, monkeypatch):
    """$CLIPSEARCH_MODEL names the model of a new index and of ``embed`` with no index named; an
    index named by the caller keeps its own model (it answered with the environment's before)."""
    from clipsearch import api

    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(CORPUS / "photos" / "coffee.png", folder / "coffee.png")
    cli.json("index", str(folder), "--model", "tiny-shapes")
    shapes_dim = len(cli.json("embed", "--text", "a red circle")[0]["vector"])
    monkeypatch.setenv("CLIPSEARCH_MODEL", str(tiny_model.config))
    monkeypatch.setenv("CLIPSEARCH_PRETRAINED", str(tiny_model.weights))
    named = api.embed(["a red circle"], index="default", home=cli.home)
    assert len(named[0]["vector"]) == shapes_dim
    assert len(cli.json("embed", "--index", "default", "--text", "a red circle")[0]["vector"]) == shapes_dim
    assert len(api.embed(["a red circle"], home=cli.home)[0]["vector"]) == 32  # none named: the environment's
