"""The CPU runtime: ONNX towers exported from open_clip, torch-free preprocessing and tokenizer, int8.

Each part is compared with open_clip itself (the definition), on the shared corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from clipsearch.errors import ExportError
from clipsearch.ingest.images import load_image
from clipsearch.models.onnx_export import export_dir, model_key
from clipsearch.models.onnx_runtime import OnnxEncoder
from clipsearch.models.preprocess import Preprocessor
from clipsearch.models.registry import resolve_model_ref
from clipsearch.models.runtimes import load_encoder
from clipsearch.models.tokenizer import ClipTokenizer
from clipsearch.models.torch_runtime import TorchEncoder

CORPUS = Path(__file__).parent / "corpus"
PICTURES = sorted((CORPUS / "photos").glob("*.[jp][pn]g")) + sorted((CORPUS / "drawings").glob("*.jpg"))


def _open_clip_transform(size: int, mode: str, interpolation: str, fill: int):
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = PreprocessCfg(size=size, mode="RGB", interpolation=interpolation, resize_mode=mode, fill_color=fill)
    return image_transform_v2(cfg, is_train=False)


@pytest.mark.parametrize(
    ("size", "mode", "interpolation", "fill"),
    [(224, "shortest", "bicubic", 0), (256, "shortest", "bicubic", 0), (64, "longest", "bilinear", 255),
     (224, "longest", "bicubic", 255), (96, "squash", "bicubic", 0)],
)  # fmt: skip
def test_preprocessing_equals_open_clips_transform(size, mode, interpolation, fill):
    """Every runtime gets the pixels open_clip would give the model: same resize, crop, pad, scale."""
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    ours = Preprocessor(size, mean, std, interpolation, mode, fill)
    theirs = _open_clip_transform(size, mode, interpolation, fill)
    images = [load_image(p) for p in PICTURES[:6]]
    images += [Image.new("RGB", (40, 17), (200, 30, 30)), Image.new("RGB", (13, 300), (0, 90, 200))]  # pads
    for image in images:
        expected = theirs(image).numpy()
        got = ours(image)
        assert got.shape == expected.shape == (3, size, size)
        assert np.abs(got - expected).max() < 1e-4, image.size


TRICKY = [
    "a dog on a beach",
    "A Technical DRAWING!!  of a  flange, Ø 40 mm",
    "café &amp; naïve 東京 😀 don't STOP",
    "ﬁsh &lt;b&gt; full-width ＡＢＣ",
    "tab\tand\nnewline\r\n and \x1b[31mred\x1b[0m",
    "x" * 400,
    "",
    "<start_of_text> 1234 5.6",
]


@pytest.mark.parametrize("context", [77, 32])
def test_tokenizer_equals_open_clips(context):
    from open_clip.tokenizer import SimpleTokenizer

    theirs = SimpleTokenizer(context_length=context)
    ours = ClipTokenizer(context)
    assert (ours(TRICKY) == theirs(TRICKY).numpy()).all()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_tokenizer_equals_open_clips_on_any_text(text):
    from open_clip.tokenizer import SimpleTokenizer

    assert (_ours()([text]) == _theirs(SimpleTokenizer)([text]).numpy()).all()


_TOKENIZERS: dict[str, object] = {}


def _ours():
    # built once: ``setdefault(key, ClipTokenizer())`` built one per example (150 x 0.12 s)
    if "ours" not in _TOKENIZERS:
        _TOKENIZERS["ours"] = ClipTokenizer()
    return _TOKENIZERS["ours"]


def _theirs(cls):
    if "theirs" not in _TOKENIZERS:
        _TOKENIZERS["theirs"] = cls()
    return _TOKENIZERS["theirs"]


@pytest.fixture(scope="module")
def tiny_shapes():
    ref = resolve_model_ref("tiny-shapes")
    onnx = {"runtime": "onnx"}
    return (
        ref,
        TorchEncoder(ref, "cpu"),
        load_encoder(ref, "cpu", **onnx).inner,  # the runtime's encoder, under this caller's handle
        load_encoder(ref, "cpu", precision="int8", **onnx).inner,
    )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_fp32_equals_pytorch_and_int8_stays_within_099_on_the_corpus(tiny_shapes):
    _, torch_enc, onnx_enc, int8_enc = tiny_shapes
    assert isinstance(onnx_enc, OnnxEncoder) and onnx_enc.precision == "fp32"
    assert onnx_enc.info == torch_enc.info  # same model facts recorded, whichever runtime
    batch = np.stack([torch_enc.preprocess(load_image(p, 64)) for p in PICTURES])
    reference = torch_enc.encode_images(batch)
    assert _cosines(onnx_enc.encode_images(batch), reference).min() > 0.9999
    assert _cosines(int8_enc.encode_images(batch), reference).min() >= 0.99
    texts = ["a red circle", "a blue star", "a technical drawing", "a photo of a cat"]
    reference = torch_enc.encode_texts(texts)
    assert _cosines(onnx_enc.encode_texts(texts), reference).min() > 0.9999
    assert _cosines(int8_enc.encode_texts(texts), reference).min() >= 0.99


def test_int8_keeps_zero_shot_answers(tiny_shapes):
    """Quantised, the toy model still names held-out shapes and colours as fp32 does."""
    from clipsearch.models.demo_shapes import evaluate

    _, _, fp32, int8 = tiny_shapes
    a, b = evaluate(fp32, per_class=4), evaluate(int8, per_class=4)
    assert b["shape_accuracy"] >= a["shape_accuracy"] - 0.03
    assert b["colour_accuracy"] >= a["colour_accuracy"] - 0.03


def test_a_repeated_text_never_opens_the_text_tower(tiny_shapes):
    ref = tiny_shapes[0]
    first = load_encoder(ref, "cpu")
    first.encode_texts(["a green hexagon on a beach"])
    fresh = OnnxEncoder(export_dir(ref), "fp32")  # a new process would build one like this
    vec = fresh.encode_texts(["a green hexagon on a beach"])
    assert "text" not in fresh.towers_loaded
    assert np.allclose(vec, first.encode_texts(["a green hexagon on a beach"]), atol=1e-6)


def test_cache_entry_follows_the_weights_file(tiny_model):
    ref = resolve_model_ref(str(tiny_model.config), str(tiny_model.weights))
    before = model_key(ref)
    assert model_key(ref) == before
    stat = tiny_model.weights.stat()
    os.utime(tiny_model.weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    try:
        assert model_key(ref) != before  # new weights in the same file: exported again, not reused
    finally:
        os.utime(tiny_model.weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_export_failure_falls_back_to_pytorch_unless_onnx_was_asked_for(tiny_model, tmp_path, monkeypatch, cli):
    import torch

    monkeypatch.setenv("CLIPSEARCH_CACHE", str(tmp_path / "cache"))

    def broken(*args, **kwargs):
        raise RuntimeError("operator not supported")

    monkeypatch.setattr(torch.onnx, "export", broken)
    ref = resolve_model_ref(str(tiny_model.config), str(tiny_model.weights))
    assert isinstance(load_encoder(ref, "cpu").inner, TorchEncoder)
    with pytest.raises(ExportError, match="operator not supported"):
        load_encoder(ref, "cpu", runtime="onnx")
    result = cli("index", str(CORPUS / "photos"), *tiny_model.args, "--runtime", "onnx", ok=False)
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1 and "cannot export" in result.stderr and "Traceback" not in result.stderr


def test_int8_is_remembered_by_the_index_and_used_by_queries(photos, cli):
    report = cli.json("index", str(photos), "--model", "tiny-shapes", "--precision", "int8")
    assert report["embedded"] == 9
    assert cli.json("status")["precision"] == "int8"
    (photos / "photos" / "copy.png").write_bytes((photos / "photos" / "coffee.png").read_bytes())
    cli.json("index", str(photos))  # no flag: stays int8
    assert cli.json("status")["precision"] == "int8"
    hits = cli.json("similar", str(photos / "photos" / "coffee.png"))
    assert hits[0]["path"].endswith("copy.png") and hits[0]["score"] > 0.999


def test_cold_text_query_and_cached_reindex_import_no_pytorch(photos, cli):
    """The CPU query path runs without torch: the text tower in ONNX Runtime, tokenizer in Python."""
    first = cli.json("index", str(photos), "--model", "tiny-shapes")
    probe = (
        "import json, sys\n"
        "from clipsearch.cli import cli\n"
        "try:\n"
        "    cli.main(args=sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    mods = ('torch', 'open_clip', 'onnxruntime', 'openvino')\n"
        "    print(json.dumps({m: m in sys.modules for m in mods}), file=sys.stderr)\n"
    )
    env = {**os.environ, "CLIPSEARCH_HOME": str(cli.home)}
    text = f"a drawing of part {os.getpid()}-{id(probe)}"  # never embedded before: the tower must run
    for args in (["search", text, "--json"], ["index", str(photos), "--json"]):
        cmd = [sys.executable, "-c", probe, *args]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        loaded = json.loads(done.stderr.strip().splitlines()[-1])
        expected = {"torch": False, "open_clip": False, "onnxruntime": args[0] == "search", "openvino": False}
        assert loaded == expected, args
    assert json.loads(done.stdout)["unchanged"] == first["added"] == 9


def test_texts_that_end_early_run_in_the_short_graph_with_the_same_vectors(tiny_model):
    """A prompt of a few words runs over 16 positions, not the whole context, with the same vector
    (the causal mask means nothing after the end-of-text token can change it); longer texts use the
    full graph; the short graph reuses the full one's weights file instead of copying it."""
    from clipsearch.models.onnx_export import SHORT_TEXT, ensure_export

    ref = resolve_model_ref(str(tiny_model.config), str(tiny_model.weights))
    folder = ensure_export(ref)
    reference = TorchEncoder(ref, "cpu")
    short = ["a short prompt about gears", "one cog"]  # texts no other test embeds (no cache hit)
    long = [" ".join(["cog"] * (SHORT_TEXT + 4))]
    encoder = OnnxEncoder(folder, "fp32")
    assert encoder.meta["text_short_length"] == SHORT_TEXT < encoder.info.context_length
    got = encoder.encode_texts(short)
    assert encoder.towers_loaded == ["text_short"]
    assert np.abs(got - reference.encode_texts(short)).max() < 1e-5
    got = encoder.encode_texts(long)
    assert "text" in encoder.towers_loaded
    assert np.abs(got - reference.encode_texts(long)).max() < 1e-5
    assert (folder / "text_short.onnx").stat().st_size < (folder / "text.weights").stat().st_size / 4


def test_a_new_export_removes_the_ones_it_replaces(tiny_model, tmp_path, monkeypatch):
    """An upgrade (new export version) or a replaced weights file leaves no dead ~600 MB copies."""
    from clipsearch.models.onnx_export import EXPORT_VERSION, ensure_export

    monkeypatch.setenv("CLIPSEARCH_CACHE", str(tmp_path / "cache"))
    ref = resolve_model_ref(str(tiny_model.config), str(tiny_model.weights))
    model = {"kind": ref.kind, "name": ref.name, "pretrained": ref.pretrained}
    entries = {
        "older": (EXPORT_VERSION - 1, model),  # an earlier clipsearch's export of this model
        "newer": (EXPORT_VERSION + 1, model),  # a later clipsearch's: not ours to delete
        "other": (EXPORT_VERSION - 1, {**model, "name": "another-model"}),
    }
    root = tmp_path / "cache" / "onnx"
    for name, (version, facts) in entries.items():
        (root / name).mkdir(parents=True)
        (root / name / "export.json").write_text(json.dumps({"export_version": version, "model": facts}))
    folder = ensure_export(ref)
    assert sorted(p.name for p in root.iterdir()) == sorted([folder.name, "newer", "other"])
