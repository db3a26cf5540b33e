"""Every model family through the real loading code (``local-dir:``, a populated hub cache), on every
runtime, against open_clip's own forward and open_clip's own tokenizers (transformers) as reference.

Folders are built by ``tools/families.py``: random weights, tokenizers trained on the spot in the real
ones' shapes. Vectors must match open_clip's (cosine >= 0.999) for English, Russian, Chinese, emoji
and 200-character texts, and for non-square pictures (SigLIP squashes, XLM-R crops the short side).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools import families as F

RUNTIMES = ["torch", "onnx", "openvino", "auto"]


@pytest.fixture(scope="session")
def family_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("families")


@pytest.fixture(scope="session")
def siglip_dir(family_root: Path) -> Path:
    return F.siglip_folder(family_root / "siglip2")


@pytest.fixture(scope="session")
def xlmr_dir(family_root: Path) -> Path:
    return F.xlmr_folder(family_root / "xlmr")


@pytest.fixture(scope="session")
def nllb_dir(family_root: Path) -> Path:
    return F.nllb_folder(family_root / "nllb")


def _reference(folder: Path, texts: list[str], images: list, language: str | None = None):
    """open_clip's own model, transform and tokenizer for ``local-dir:folder``."""
    import open_clip
    import torch

    name = f"local-dir:{folder}"
    model, _, transform = open_clip.create_model_and_transforms(name)
    tok = open_clip.get_tokenizer(name)
    if language:  # open_clip's set_language does not reach transformers 5's NLLB tokenizer; src_lang does
        tok.tokenizer.src_lang = language
    with torch.no_grad():
        t = model.eval().encode_text(tok(texts), normalize=True).numpy()
        i = model.encode_image(torch.stack([transform(im) for im in images]), normalize=True).numpy()
    return t, i, tok(texts).numpy()


def _pictures():
    from conftest import CORPUS
    from PIL import Image

    wide = Image.open(CORPUS / "photos" / "chelsea.png").convert("RGB").resize((120, 40))
    tall = Image.open(CORPUS / "photos" / "rocket.jpg").convert("RGB").resize((36, 100))
    return [wide, tall]


def _check_runtimes(folder: Path, language: str | None = None) -> None:
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    images = _pictures()
    want_t, want_i, _ = _reference(folder, F.TEXTS, images, language)
    ref = resolve_model_ref(f"local-dir:{folder}")
    for runtime in RUNTIMES:
        enc = load_encoder(ref, runtime=runtime)
        got_t = enc.encode_texts(F.TEXTS, language=language)
        got_i = enc.encode_images(np.stack([enc.preprocess(im) for im in images]))
        text_cos, image_cos = (got_t * want_t).sum(1), (got_i * want_i).sum(1)
        assert text_cos.min() >= 0.999, (runtime, dict(zip(F.TEXTS, text_cos.round(4), strict=True)))
        assert image_cos.min() >= 0.999, (runtime, image_cos)


def test_siglip2_family_on_every_runtime_equals_open_clip(siglip_dir):
    _check_runtimes(siglip_dir)


def test_xlm_roberta_family_on_every_runtime_equals_open_clip(xlmr_dir):
    _check_runtimes(xlmr_dir)


@pytest.mark.parametrize(
    ("name", "preprocess"),
    [
        # PE-Core: timm's PE ViT (RoPE, attention pooling), CLIP BPE at context 32
        ("PE-Core-T-16-384", {}),
        # MobileCLIP2: FastViT-MCi, reparameterised before running and export; mean 0 / std 1, bilinear
        ("MobileCLIP2-S0", {"mean": [0, 0, 0], "std": [1, 1, 1], "interpolation": "bilinear"}),
    ],
)
def test_timm_image_towers_on_every_runtime_equal_open_clip(name, preprocess, family_root):
    import open_clip

    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.torch_runtime import TorchEncoder

    folder = F.open_clip_family(family_root / name, name, preprocess)
    _check_runtimes(folder)
    enc = TorchEncoder(resolve_model_ref(f"local-dir:{folder}"), "cpu")
    assert enc.info.context_length == open_clip.get_model_config(name)["text_cfg"]["context_length"]
    if name.startswith("MobileCLIP"):  # the training-time branches were folded away
        plain = open_clip.create_model(f"local-dir:{folder}")
        assert sum(p.numel() for p in enc.model.visual.parameters()) < sum(p.numel() for p in plain.visual.parameters())


def test_metaclip2_family_on_every_runtime_equals_open_clip(family_root):
    """open_clip's text transformer with a Hugging Face tokenizer and EOS pooling (MetaCLIP 2)."""
    _check_runtimes(F.metaclip2_folder(family_root / "metaclip2"))


def test_nllb_family_gets_the_query_language_on_every_runtime(nllb_dir):
    _check_runtimes(nllb_dir, language="rus_Cyrl")
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    # no language given: each text's is detected, so a Russian text gets rus_Cyrl, not eng_Latn
    enc = load_encoder(resolve_model_ref(f"local-dir:{nllb_dir}"), runtime="onnx").inner
    tokens = enc.tokenize(["фотография кошки на диване", "a photo of a cat on a sofa", "沙发上的一只猫的照片"])
    codes = [enc.tokenizer.token(int(row[0])) for row in tokens]
    assert codes == ["rus_Cyrl", "eng_Latn", "zho_Hans"]


@pytest.mark.parametrize("shape", ["gemma", "xlmr", "nllb"])
def test_torch_free_tokenizers_give_open_clips_ids(shape, family_root):
    from open_clip.tokenizer import HFTokenizer as OpenClipHF

    from clipsearch.models.hf_tokenizer import HFTokenizer, read_spec

    folder = family_root / f"tok-{shape}"
    getattr(F, f"{shape}_tokenizer")(folder)
    clean = "canonicalize" if shape == "gemma" else "whitespace"
    for context in (8, 16, 64):  # 8: every long text is truncated, its EOS kept
        ref = OpenClipHF(str(folder), context_length=context, clean=clean)
        mine = HFTokenizer(read_spec(folder, context, clean), folder)
        want, got = ref(F.TEXTS).numpy(), mine(F.TEXTS)
        assert (want == got).all(), (shape, context, want.tolist(), got.tolist())
        if shape == "nllb":
            ref.tokenizer.src_lang = "zho_Hans"
            assert (ref(F.TEXTS).numpy() == mine(F.TEXTS, language="zho_Hans")).all()
    if shape == "gemma":  # SigLIP pools the last position: padding must be Gemma's pad id 0, on the right
        assert got[0, -1] == 0 and got[0].tolist().count(1) == 1


def test_a_populated_hub_cache_loads_offline(siglip_dir, tmp_path, monkeypatch):
    """``hf-hub:ORG/NAME`` from huggingface_hub's cache with HF_HUB_OFFLINE=1: the config, the
    weights, and the tokenizer from the repository the config names."""
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    cache = tmp_path / "hub"
    F.hub_cache(cache, "test-org/tiny-siglip2", siglip_dir)
    tok_only = tmp_path / "tok"
    tok_only.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tok_only / name).write_bytes((siglip_dir / name).read_bytes())
    F.hub_cache(cache, "timm/test-siglip2", tok_only)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    want_t, _, _ = _reference(siglip_dir, F.TEXTS, _pictures())
    ref = resolve_model_ref("hf-hub:test-org/tiny-siglip2")
    for runtime in ("torch", "onnx"):
        enc = load_encoder(ref, runtime=runtime)
        assert (enc.encode_texts(F.TEXTS) * want_t).sum(1).min() >= 0.999
        assert enc.info.logit_bias == pytest.approx(-4.0)


def test_siglip_index_search_categories_and_duplicates_end_to_end(siglip_dir, photos, cli):
    """A SigLIP-family index through the CLI: the bias is recorded, status says the score rule,
    categories use the model's sigmoid, and every query command works."""
    from PIL import Image

    model = f"local-dir:{siglip_dir}"
    original = photos / "photos" / "chelsea.png"
    Image.open(original).resize((200, 150)).save(photos / "photos" / "chelsea-small.png")  # a resized copy
    # fp32, as queries embed: the resized copy scores within an int8 index's rounding of the original,
    # and which precision the planner picks depends on this CPU's timings
    cli("index", str(photos), "--model", model, "--precision", "fp32")
    status = cli.json("status")
    assert status["score_rule"] == "sigmoid" and status["logit_bias"] == pytest.approx(-4.0)
    assert status["context_length"] == 16
    hits = cli.json("search", "фотография кошки", "-k", "3")
    assert len(hits) == 3
    import shutil

    query = shutil.copy(photos / "photos" / "chelsea.png", cli.home.parent / "query.png")  # not indexed
    assert cli.json("similar", str(query), "-k", "1")[0]["path"].endswith("chelsea.png")
    cli("category", "add", "cat", "--prompt", "a cat", "--facet", "what")
    cli("category", "add", "drawing", "--prompt", "a technical drawing", "--facet", "what")
    assert "what" in {f["name"] for f in cli.json("category", "list")}
    from clipsearch import Index
    from clipsearch.query.categories import Categories

    with Index.open(None, cli.home) as ix:
        store = ix.store
        cats = Categories(store)
        vectors = store.catalog.vectors([1, 2, 3], store.model.dim)
        _, probs = cats.probabilities("what", vectors)
        text = np.stack([c.vector for c in cats.rows("what")])
        sig = 1 / (1 + np.exp(-(store.model.logit_scale * vectors @ text.T + store.model.logit_bias)))
        assert np.allclose(probs, sig, atol=1e-5)  # sigmoid per category, not a softmax across them
        assert not np.allclose(probs.sum(1), 1.0)
    # perceptual tier: random weights put every photo within the semantic tier's cosine of each other
    groups = [{Path(m["path"]).name for m in g["items"]} for g in cli.json("duplicates", "--by", "perceptual")]
    assert {"chelsea.png", "chelsea-small.png"} in groups


def test_multilingual_index_finds_by_a_russian_query(xlmr_dir, photos, cli):
    cli("index", str(photos), "--model", f"local-dir:{xlmr_dir}")
    out = cli.json("search", "чертёж", "-k", "2", "--lang", "ru")
    assert len(out) == 2
    emb = cli.json("embed", "--text", "кошка", "--text", "猫")
    assert [e["text"] for e in emb] == ["кошка", "猫"]
    assert abs(np.linalg.norm(emb[0]["vector"]) - 1) < 1e-4


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--model", "ViT-B-32-SigLIP2-256", "--pretrained", "none"], 4, "tokenizer"),
        (["--model", "local-dir:/no/such/folder"], 2, "model folder not found"),
        (["--model", "hf-hub:nobody/nothing"], 4, "hf-hub:nobody/nothing"),
    ],
)
def test_models_that_cannot_load_offline_fail_in_one_line(args, code, says, photos, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from clipsearch.cli import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    env = {"CLIPSEARCH_HOME": str(tmp_path / "h"), "HF_HUB_CACHE": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    result = CliRunner().invoke(cli, ["index", str(photos), *args], env=env)
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.output, result.stderr


def test_presets_name_concrete_models_with_licences_that_allow_any_use():
    from clipsearch.models.presets import PRESETS, check_presets, licence_of
    from clipsearch.models.registry import resolve_model_ref

    assert check_presets() == []
    assert resolve_model_ref("multilingual").name == "xlm-roberta-base-ViT-B-32"
    assert resolve_model_ref("best").pretrained == PRESETS["best"].pretrained
    assert "non-commercial" in licence_of("MobileCLIP2-S2", "dfndr2b")
    assert "non-commercial" in licence_of("ViT-H-14-worldwide", "metaclip2_worldwide")
    assert licence_of("tiny-shapes", "builtin").startswith("MIT") and licence_of("PE-Core-B-16", "meta") == "Apache-2.0"


def test_language_detection_and_codes():
    from clipsearch.errors import UsageError
    from clipsearch.models.language import detect, flores_code

    known = frozenset(F.NLLB_CODES)
    assert detect("технический чертёж фланца", known) == "rus_Cyrl"
    assert detect("带孔法兰的技术图纸", known) == "zho_Hans"
    assert detect("ein technisches Zeichnen eines Flansches", known) == "deu_Latn"
    assert flores_code("ru") == "rus_Cyrl" and flores_code("zho_Hans") == "zho_Hans"
    with pytest.raises(UsageError):
        flores_code("klingon")


def test_export_records_the_tokenizer_and_queries_need_no_torch(siglip_dir, tmp_path):
    """The export copies tokenizer.json in and records its recipe; a query process imports
    neither torch nor transformers."""
    import subprocess
    import sys

    from clipsearch.models.onnx_export import ensure_export, read_meta
    from clipsearch.models.registry import resolve_model_ref

    folder = ensure_export(resolve_model_ref(f"local-dir:{siglip_dir}"))
    meta = read_meta(folder)
    assert meta["tokenizer"]["kind"] == "hf" and (folder / "tokenizer.json").is_file()
    assert meta["tokenizer"]["pad_id"] == 0 and meta["tokenizer"]["clean"] == "canonicalize"
    code = (
        "import sys\nfrom clipsearch.models.runtimes import shared_encoder\n"
        f"e = shared_encoder({str(folder)!r}, 'fp32', 'onnx')\n"
        "v = e.encode_texts(['фотография кошки'])\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)\n"
        "print(json.dumps(v[0].tolist()))".replace("print(json", "import json; print(json")
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(json.loads(out.stdout)) == 32


@pytest.mark.parametrize("family", ["siglip", "xlmr"])
def test_a_large_token_table_leaves_the_graph_and_vectors_stay(family, family_root, monkeypatch, tmp_path):
    """SigLIP2's and XLM-R's 250k-row tables are most of the text tower: the export keeps them in a
    memory-mapped float16 file and the graph takes the gathered rows (forced here on small models)."""
    from clipsearch.models import text_table
    from clipsearch.models.onnx_export import read_meta
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    monkeypatch.setenv("CLIPSEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(text_table, "SPLIT_VALUES", 1)
    folder = getattr(F, f"{family}_folder")(family_root / f"{family}-table")
    want_t, _, _ = _reference(folder, F.TEXTS, _pictures())
    enc = load_encoder(resolve_model_ref(f"local-dir:{folder}"), runtime="onnx").inner
    meta = read_meta(enc.folder)
    assert meta["text_table"] == "text_table.npy"
    rows = np.load(enc.folder / "text_table.npy", mmap_mode="r")
    assert rows.dtype == np.float16 and rows.shape[1] == 32
    assert [i.name for i in enc.session("text").get_inputs()][-1] == "embedded"
    assert (enc.encode_texts(F.TEXTS) * want_t).sum(1).min() >= 0.999
