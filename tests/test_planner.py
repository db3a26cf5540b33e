"""The planner: each runtime x precision timed and checked for parity on this CPU, once per model,
the fastest that keeps cosine >= 0.999 to fp32 chosen; forced choices obeyed; what ran said."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipsearch.models import planner, runtimes
from clipsearch.models.onnx_export import ensure_export
from clipsearch.models.registry import resolve_model_ref


@pytest.fixture
def shapes_ref():
    return resolve_model_ref("tiny-shapes")


def test_a_plan_times_every_candidate_checks_parity_and_is_made_once(shapes_ref, monkeypatch):
    encoder = runtimes.load_encoder(shapes_ref, "cpu", precision="auto")
    folder = ensure_export(shapes_ref, "int8")
    plan = json.loads(planner.plan_file(folder).read_text())
    labels = {(c["runtime"], c["precision"], c["group"]) for c in plan["candidates"]}
    assert {("openvino", "fp32", 0), ("openvino", "int8", 32), ("openvino", "int8", 128), ("onnx", "fp32", 0),
            ("onnx", "int8", 0)} <= labels  # fmt: skip
    assert all(c["images_per_s"] > 0 and c["cosine_min"] is not None for c in plan["candidates"])
    assert plan["cpu"] == planner.cpu_signature() and plan["cpu"]["cores"] >= 1
    best = max((c for c in plan["candidates"] if c["ok"]), key=lambda c: c["images_per_s"])
    note = encoder.run_note
    assert (note["runtime"], note["precision"], note["group"]) == (best["runtime"], best["precision"], best["group"])
    # a second load reads the plan: nothing is timed again
    monkeypatch.setattr(planner, "measure", lambda *a: pytest.fail("planned twice"))
    assert runtimes.load_encoder(shapes_ref, "cpu", precision="auto").run_note == note


def test_a_new_cpu_plans_again(shapes_ref, monkeypatch):
    runtimes.load_encoder(shapes_ref, "cpu", precision="auto")
    folder = ensure_export(shapes_ref, "int8")
    before = planner.plan_file(folder)
    other = {**planner.cpu_signature(), "flags": ["avx2", "fma"], "model": "Some AVX2-only CPU"}
    monkeypatch.setattr(planner, "cpu_signature", lambda: other)
    calls = []
    real = planner.measure
    monkeypatch.setattr(planner, "measure", lambda *a: calls.append(1) or real(*a))
    runtimes.load_encoder(shapes_ref, "cpu", precision="auto")
    assert calls and planner.plan_file(folder) != before and planner.plan_file(folder).is_file()


def _plan(*rows):
    return {"candidates": [dict(zip(("runtime", "precision", "group", "images_per_s", "cosine_min", "ok"), r,
                                    strict=True)) for r in rows]}  # fmt: skip


def test_the_fastest_that_keeps_parity_wins_and_a_lost_precision_falls_back_to_fp32():
    plan = _plan(("onnx", "int8", 0, 13.5, 0.9836, False), ("openvino", "fp32", 0, 11.6, 1.0, True),
                 ("onnx", "fp32", 0, 9.2, 1.0, True), ("openvino", "int8", 32, 9.8, 0.9999, True))  # fmt: skip
    config, why = planner.choose(plan, None, "auto")
    assert config == planner.Config("openvino", "fp32")  # ONNX Runtime's int8 is faster but lost parity
    assert "11.6 images/s" in why and "onnx int8 13.5" in why
    assert planner.choose(plan, None, "int8")[0] == planner.Config("openvino", "int8", 32)
    assert planner.choose(plan, "onnx", "auto")[0] == planner.Config("onnx", "fp32")
    config, why = planner.choose(plan, "onnx", "int8")  # the only onnx int8 lost parity here: fp32
    assert config == planner.Config("onnx", "fp32") and "int8 lost parity" in why
    assert planner.choose(plan, None, "auto", installed={"onnx"})[0] == planner.Config("onnx", "fp32")


def test_index_and_status_say_what_ran_and_why_and_named_choices_are_obeyed(photos, cli):
    report = cli.json("index", str(photos), "--model", "tiny-shapes")
    assert report["encoding"]["why"].startswith("planned on this CPU")
    status = cli.json("status")
    assert status["encoding"] == report["encoding"] and status["precision"] == report["encoding"]["precision"]
    assert "planned on this CPU" in cli("status").stdout
    forced = cli.json(
        "index", str(photos), "--runtime", "onnx", "--precision", "int8", "--rebuild", "--model", "tiny-shapes"
    )
    assert forced["encoding"] == {"precision": "int8", "runtime": "onnx", "group": 0, "why": "as asked"}


def test_parity_pictures_are_fixed_and_cover_drawings_and_photos():
    from clipsearch.models.registry import ModelInfo

    info = ModelInfo("m", "none", "arch", 8, 224, (0.5,) * 3, (0.5,) * 3, "bicubic", "squash", 77)
    a, b = planner.parity_pictures(info), planner.parity_pictures(info)
    assert a.shape == (12, 3, 224, 224) and (a == b).all()
    assert float(np.median(a[2])) > 0.95 and a[2].min() < -0.5  # a drawing: white with dark lines
    assert abs(float(np.median(a[0]))) < 0.9  # a photo-like gradient
