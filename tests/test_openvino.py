"""OpenVINO for the image tower (fp32, bf16, int8), chosen by ``auto`` on a CPU, compared with open_clip."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from clipsearch.errors import UsageError
from clipsearch.ingest.images import load_image
from clipsearch.models import openvino_runtime, runtimes
from clipsearch.models.onnx_export import export_dir
from clipsearch.models.onnx_runtime import OnnxEncoder
from clipsearch.models.openvino_runtime import OpenVinoEncoder
from clipsearch.models.registry import resolve_model_ref
from clipsearch.models.runtimes import choose_runtime, load_encoder
from clipsearch.models.torch_runtime import TorchEncoder

CORPUS = Path(__file__).parent / "corpus"
PICTURES = sorted((CORPUS / "photos").glob("*.[jp][pn]g")) + sorted((CORPUS / "drawings").glob("*.jpg"))
TEXTS = ["a red circle", "a blue star", "a technical drawing", "a photo of a cat"]


@pytest.fixture(scope="module")
def shapes():
    ref = resolve_model_ref("tiny-shapes")
    torch_enc = TorchEncoder(ref, "cpu")
    batch = np.stack([torch_enc.preprocess(load_image(p, 64)) for p in PICTURES])
    return ref, torch_enc, batch


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).min())


def test_auto_runs_the_planned_configuration_and_onnx_runtime_without_openvino(shapes, monkeypatch):
    """Under auto the planner's measured choice runs, at the precision asked (bf16 only in OpenVINO);
    without OpenVINO every precision but bf16 runs in ONNX Runtime."""
    assert choose_runtime("auto", "cpu") == ("openvino", "cpu")
    # bf16 is planned only where the CPU computes in bfloat16 (AVX512_BF16/AMX); elsewhere it cannot be seen
    for precision in ("fp32", "bf16", "int8") if openvino_runtime.bf16_supported() else ("fp32", "int8"):
        encoder = load_encoder(shapes[0], "cpu", precision=precision)
        note = encoder.run_note
        assert note["precision"] == precision and note["why"].startswith("planned on this CPU")
        assert type(encoder.inner) is {"openvino": OpenVinoEncoder, "onnx": OnnxEncoder}[note["runtime"]]
        if precision == "bf16":
            assert note["runtime"] == "openvino"
    monkeypatch.setattr(runtimes, "is_installed", lambda module: module != "openvino")
    assert choose_runtime("auto", "cpu") == ("onnx", "cpu")  # without OpenVINO: ONNX Runtime
    assert type(load_encoder(shapes[0], "cpu", precision="int8").inner) is OnnxEncoder


def test_openvino_fp32_equals_pytorch_and_bf16_stays_within_0999_on_the_corpus(shapes):
    ref, torch_enc, batch = shapes
    fp32 = load_encoder(ref, "cpu", runtime="openvino")
    bf16 = load_encoder(ref, "cpu", runtime="openvino", precision="bf16")
    assert type(fp32.inner) is OpenVinoEncoder and fp32.inner.image_precision == "fp32"
    assert fp32.info == torch_enc.info
    reference = torch_enc.encode_images(batch)
    fp32_vectors, bf16_vectors = fp32.encode_images(batch), bf16.encode_images(batch)
    assert _min_cosine(fp32_vectors, reference) > 0.9999
    assert _min_cosine(bf16_vectors, reference) >= 0.999
    if openvino_runtime.bf16_supported():  # the hint took effect: bfloat16 arithmetic, not fp32 again
        assert np.abs(bf16_vectors - fp32_vectors).max() > 1e-4
    # texts run in ONNX Runtime at fp32 whatever the image precision: the same vectors as PyTorch's
    assert _min_cosine(bf16.encode_texts(TEXTS), torch_enc.encode_texts(TEXTS)) > 0.9999


def test_queries_open_onnx_runtime_which_starts_faster(shapes, monkeypatch):
    """One query image does not pay OpenVINO's compile; a bf16 or int8 index's query images are fp32."""
    ref = shapes[0]
    for precision in ("fp32", "bf16", "int8"):
        encoder = load_encoder(ref, "cpu", precision=precision, queries=True)
        assert type(encoder.inner) is OnnxEncoder and encoder.inner.precision == "fp32"
    assert load_encoder(ref, "cpu", runtime="onnx", precision="int8", queries=True).inner.precision == "int8"
    monkeypatch.setenv("CLIPSEARCH_RUNTIME", "openvino")  # asked for by name: obeyed
    assert type(load_encoder(ref, "cpu", precision="bf16", queries=True).inner) is OpenVinoEncoder


def test_openvino_int8_stays_within_0999_and_stores_int8_weights(shapes):
    """int8 in OpenVINO: int8 weights, activations quantised at run time (no calibration)."""
    import onnx

    ref, torch_enc, batch = shapes
    int8 = load_encoder(ref, "cpu", runtime="openvino", precision="int8")
    assert type(int8.inner) is OpenVinoEncoder and int8.inner.image_precision == "int8"
    reference = torch_enc.encode_images(batch)
    vectors = int8.encode_images(batch)
    assert _min_cosine(vectors, reference) >= 0.999
    assert np.abs(vectors - reference).max() > 1e-4  # quantised weights, not the fp32 graph again
    graph = onnx.load(str(int8.inner.folder / int8.inner.meta["files"]["int8"]["visual_w8"]), load_external_data=False)
    int8_weights = [t for t in graph.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    matmuls = [n for n in graph.graph.node if n.op_type in ("MatMul", "Gemm")]
    assert len(int8_weights) >= 3 * 4  # every layer's attention and MLP matrices (3 layers, 4 each)
    assert sum(n.input[1].endswith(".dq") for n in matmuls) == len(int8_weights)
    # texts run in ONNX Runtime at fp32: the same vectors as PyTorch's
    assert _min_cosine(int8.encode_texts(TEXTS), torch_enc.encode_texts(TEXTS)) > 0.9999


def test_an_int8_export_from_before_openvino_int8_is_completed_not_redone(shapes):
    """An older cache entry whose int8 files lack OpenVINO's graph gets it; the fp32 export stays."""
    import json

    from clipsearch.models.onnx_export import META, ensure_export

    ref = shapes[0]
    folder = ensure_export(ref, "int8")
    meta = json.loads((folder / META).read_text())
    w8 = folder / meta["files"]["int8"].pop("visual_w8")
    (folder / META).write_text(json.dumps(meta))
    w8.unlink()
    fp32_mtime = (folder / meta["files"]["fp32"]["visual"]).stat().st_mtime_ns
    assert ensure_export(ref, "int8") == folder
    assert w8.is_file() and json.loads((folder / META).read_text())["files"]["int8"]["visual_w8"] == w8.name
    assert (folder / meta["files"]["fp32"]["visual"]).stat().st_mtime_ns == fp32_mtime


def test_bf16_and_int8_keep_zero_shot_answers(shapes):
    from clipsearch.models.demo_shapes import evaluate

    ref = shapes[0]
    a = evaluate(load_encoder(ref, "cpu", runtime="onnx"), per_class=4)
    for precision in ("bf16", "int8"):
        b = evaluate(load_encoder(ref, "cpu", runtime="openvino", precision=precision), per_class=4)
        assert b["shape_accuracy"] >= a["shape_accuracy"] - 0.03, precision
        assert b["colour_accuracy"] >= a["colour_accuracy"] - 0.03, precision


def test_a_cpu_without_bf16_runs_fp32_and_says_so(shapes, monkeypatch, caplog):
    ref, torch_enc, batch = shapes
    monkeypatch.setattr(openvino_runtime, "bf16_supported", lambda: False)
    encoder = OpenVinoEncoder(export_dir(ref), "bf16")
    with caplog.at_level(logging.WARNING, logger="clipsearch.models.openvino_runtime"):
        vectors = encoder.encode_images(batch)
    assert "no bfloat16" in caplog.text
    assert _min_cosine(vectors, torch_enc.encode_images(batch)) > 0.9999


def test_precisions_need_their_runtime(shapes, monkeypatch):
    ref = shapes[0]
    with pytest.raises(UsageError, match="bf16 runs in OpenVINO"):
        load_encoder(ref, "cpu", runtime="onnx", precision="bf16")
    with pytest.raises(UsageError, match="not in PyTorch"):
        load_encoder(ref, "cpu", runtime="torch", precision="bf16")
    assert type(load_encoder(ref, "cpu", runtime="onnx").inner) is OnnxEncoder
    assert load_encoder(ref, "cpu", runtime="onnx", precision="int8").inner.precision == "int8"  # ONNX Runtime's int8
    with pytest.raises(UsageError, match="not in PyTorch"):
        load_encoder(ref, "cpu", runtime="torch", precision="int8")
    monkeypatch.setattr(runtimes, "is_installed", lambda module: module != "openvino")
    with pytest.raises(UsageError, match="pip install openvino"):
        load_encoder(ref, "cpu", precision="bf16")


@pytest.mark.skipif(
    not openvino_runtime.bf16_supported(), reason="this CPU has no bfloat16 arithmetic (AVX512_BF16/AMX)"
)
def test_bf16_is_remembered_and_queries_work(photos, cli):
    report = cli.json("index", str(photos), "--model", "tiny-shapes", "--precision", "bf16")
    assert report["embedded"] == 9
    assert cli.json("status")["precision"] == "bf16"
    (photos / "photos" / "copy.png").write_bytes((photos / "photos" / "coffee.png").read_bytes())
    assert cli.json("index", str(photos))["added"] == 1  # no flag: stays bf16
    assert cli.json("status")["precision"] == "bf16"
    hits = cli.json("similar", str(photos / "photos" / "coffee.png"))
    assert hits[0]["path"].endswith("copy.png") and hits[0]["score"] > 0.999
    assert cli.json("search", "a photo")  # text queries embed in fp32 against bf16 images


def test_a_runtime_that_cannot_run_the_precision_is_one_line_and_exit_2(photos, cli):
    result = cli("index", str(photos), "--model", "tiny-shapes", "--precision", "bf16", "--runtime", "onnx", ok=False)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "OpenVINO" in result.stderr and "Traceback" not in result.stderr


def test_openvino_runs_without_reporting_on_its_user(tmp_path):
    """Imported plainly, OpenVINO sends a usage event to Google Analytics from a forked process on
    every import and counts runs in ``~/intel`` unless the user opted out. Through clipsearch (the
    image model's OpenVINO core and the OCR gate, in a fresh process with its own home, outside any
    CI) nothing is written there and OpenVINO's telemetry module is never loaded."""
    import os
    import subprocess
    import sys

    code = """if True:
        import sys
        from clipsearch.ingest.gate import Gate
        from clipsearch.models import openvino_runtime
        openvino_runtime.bf16_supported()  # the image model's OpenVINO, as every encoder opens it
        assert Gate(1).runtime == "openvino"
        print("openvino_telemetry" in sys.modules)
    """
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "TF_BUILD", "JENKINS_URL"}}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
    assert not (tmp_path / "intel").exists()
