"""The gate: a cheap text detector that says whether, and where, a picture holds lines of text.

Every picture the text pass looks at goes through it, so what it costs is most of a pass over
photos (`make bench`: stages_ms.photo_gate). PaddleOCR's PP-OCRv4 mobile detector
(``rapidocr-onnxruntime``, inside its wheel) on the picture shrunk to :data:`GATE_SIDE`: the
cheapest detector that still finds every corpus drawing's text at that size. It runs in OpenVINO
(bf16 where the CPU computes in it), fed by :func:`gate_input`; RapidOCR's ONNX Runtime session
is the fallback.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np

#: Longest side the gate's detector sees: drawings and pages still show text boxes at this size
#: (every corpus drawing did; at 320 px most did not).
GATE_SIDE = 480
#: Whether the gate runs in bfloat16 where the CPU does it natively (AVX-512 BF16, AMX): faster
#: (`make bench`: stages_ms.photo_gate) and, on the bench's signs and on text drawn 7-10 px high at
#: the gate's size, it finds what fp32 finds. Its false alarms differ (grain in a corpus photo, where
#: fp32 has others): the crops they give are read and dropped (``ocr._kept_crop``).
BF16_GATE = True


def detector(threads: int | None) -> Any:
    """PP-OCRv4's detector alone (its recogniser and classifier are never used here), fed by
    :func:`gate_input`, run by OpenVINO where it can be; its ONNX Runtime session is only made where
    OpenVINO cannot run it."""
    from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml
    from rapidocr_onnxruntime.utils.parse_parameters import update_model_path

    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Det"]
    config.update(intra_op_num_threads=threads or -1, inter_op_num_threads=1, limit_type="min")
    faster = _openvino_detector(threads)
    if faster is None:
        return TextDetector(config)
    # what find_lines uses of a TextDetector, less its ONNX Runtime session (never used with OpenVINO)
    detector = object.__new__(TextDetector)
    detector.postprocess_op = DBPostProcess(
        thresh=config.get("thresh", 0.3), box_thresh=config.get("box_thresh", 0.5),
        max_candidates=config.get("max_candidates", 1000), unclip_ratio=config.get("unclip_ratio", 1.6),
        use_dilation=config.get("use_dilation", True), score_mode=config.get("score_mode", "fast"),
    )  # fmt: skip
    detector.infer = faster
    return detector


#: A picture shape met this often gets a graph compiled for that shape alone, which OpenVINO runs
#: faster than the one for any shape (`make bench`: stages_ms.photo_gate); a library's photos come
#: in a few shapes (4:3, 3:2, 16:9, each upright or not). At most :data:`STATIC_SHAPES` of them.
STATIC_AFTER = 4
STATIC_SHAPES = 6


class _OpenVinoSession:
    """The gate's detector compiled by OpenVINO, in place of its ONNX Runtime session (same call:
    an input array in, a list holding the output out). On this project's CPUs (docs/benchmarks.md,
    ``stages_ms``) it runs the detector faster than ONNX Runtime, bf16 most of all. One per thread."""

    def __init__(self, compile_for: Any) -> None:
        self._compile_for = compile_for
        self._request = compile_for(None).create_infer_request()
        self._seen: Counter[tuple[int, ...]] = Counter()
        self._static: dict[tuple[int, ...], Any] = {}

    def __call__(self, array: np.ndarray) -> list[np.ndarray]:
        request = self._static.get(array.shape) or self._request
        if request is self._request and len(self._static) < STATIC_SHAPES:
            self._seen[array.shape] += 1
            if self._seen[array.shape] == STATIC_AFTER:
                try:
                    request = self._static[array.shape] = self._compile_for(array.shape).create_infer_request()
                except Exception:  # the shape stays on the graph for any shape: slower, never wrong
                    self._static[array.shape] = self._request
        request.infer({0: array})
        return [request.get_output_tensor(0).data.copy()]


def _openvino_detector(threads: int | None) -> _OpenVinoSession | None:
    """PP-OCRv4's detector in OpenVINO (bf16 where native, see :data:`BF16_GATE`, else fp32), or
    None where OpenVINO is missing or fails to compile. Compiled models are kept in the user's
    cache (as the image model's are), so a later run's engine start reads them instead."""
    try:
        from pathlib import Path

        import openvino as ov
        import rapidocr_onnxruntime

        from ..models.onnx_export import cache_root
        from ..models.planner import cpu_signature

        path = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_det_infer.onnx"
        bf16 = BF16_GATE and bool({"avx512_bf16", "amx_bf16"} & set(cpu_signature()["flags"]))
        # not pinned: the text pass runs one detector per worker thread, and OpenVINO pins each
        # compiled model's threads from the first core on, so two detectors shared one core
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
                                  "ENABLE_CPU_PINNING": False}  # fmt: skip
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        if os.environ.get("CLIPSEARCH_OV_CACHE", "1") != "0":
            config["CACHE_DIR"] = str(cache_root() / "openvino-ocr")
        core = ov.Core()

        def compile_for(shape: tuple[int, ...] | None) -> Any:
            model = core.read_model(path)
            if shape is not None:
                model.reshape(list(shape))
            try:
                return core.compile_model(model, "CPU", config)
            except Exception:  # a cache that cannot be written or read: compile afresh
                return core.compile_model(model, "CPU", {k: v for k, v in config.items() if k != "CACHE_DIR"})

        return _OpenVinoSession(compile_for)
    except Exception:  # ONNX Runtime's session stays: slower, never wrong
        return None


def gate_input(image: Any) -> np.ndarray:
    """``image`` as the detector takes it, in one resize: longest side :data:`GATE_SIDE` (up or
    down: the detector needs text of a readable size), both sides multiples of 32, BGR, normalised
    to -1..1, NCHW. RapidOCR's own preprocessing resized a second time and normalised in float64,
    a fifth of a gate. Bicubic in one step finds small text as often as the two resizes did (text
    8-9 px high at this size: 56 of 72 against 51); a large picture is averaged down instead, so
    thin strokes are not sampled away."""
    import cv2

    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    scale = GATE_SIDE / max(rgb.shape[:2])
    h, w = (max(32, round(side * scale / 32) * 32) for side in rgb.shape[:2])
    how = cv2.INTER_CUBIC if scale > 0.5 else cv2.INTER_AREA
    array = cv2.resize(rgb, (w, h), interpolation=how)[:, :, ::-1].astype(np.float32)
    array *= 1 / 127.5
    array -= 1.0
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None])
