"""The gate: a cheap text detector that says whether, and where, a picture holds lines of text.

Every picture the text pass looks at goes through it, so what it costs is most of a pass over
photos (`make bench`: stages_ms.photo_gate). PaddleOCR's PP-OCRv4 mobile detector
(``rapidocr-onnxruntime``, inside its wheel) on the picture shrunk to :data:`GATE_SIDE`: the
cheapest detector that still finds every corpus drawing's text at that size. It runs in OpenVINO
(bf16 where the CPU computes in it, a graph per common shape: ``ocr_runtime.py``), fed by
:func:`gate_input`; RapidOCR's ONNX Runtime session is the fallback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .textreader import Region, TextDetector

#: Longest side the gate's detector sees: drawings and pages still show text boxes at this size
#: (every corpus drawing did; at 320 px most did not).
GATE_SIDE = 480


class Gate(TextDetector):
    """PP-OCRv4's detector alone (its recogniser and classifier are never used here) for one
    thread with ``threads`` cores, fed by :func:`gate_input`, run by OpenVINO where it can be
    (``ocr_runtime.py``); its ONNX Runtime session is only made where OpenVINO cannot run it.
    rapidocr-onnxruntime's post-processing (boxes from the probability map) is used as it is."""

    def __init__(self, threads: int | None = None) -> None:
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector as Detector
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess

        from .ocr_runtime import session

        path = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_det_infer.onnx"
        faster = session(path, threads, static=True)
        self._runtime = "openvino" if faster is not None else "onnxruntime"
        if faster is None:
            from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
            from rapidocr_onnxruntime.utils import read_yaml
            from rapidocr_onnxruntime.utils.parse_parameters import update_model_path

            config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Det"]
            config.update(intra_op_num_threads=threads or -1, inter_op_num_threads=1, limit_type="min")
            self._detector = Detector(config)
            return
        # what find_lines uses of a TextDetector, less its ONNX Runtime session; the thresholds are
        # rapidocr-onnxruntime's own (its config.yaml), without parsing that file on every engine start
        detector = object.__new__(Detector)
        detector.postprocess_op = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                                                use_dilation=True, score_mode="fast")  # fmt: skip
        detector.infer = lambda array: [faster(array)]
        self._detector = detector

    @property
    def runtime(self) -> str:
        return self._runtime

    def find_lines(self, picture: Any) -> list[Region]:
        array = gate_input(picture)
        preds = self._detector.infer(array)[0]
        h, w = array.shape[2:]
        boxes, _ = self._detector.postprocess_op(preds, (h, w))
        boxes = self._detector.filter_tag_det_res(boxes, (h, w))
        if boxes is None or not len(boxes):
            return []
        return [(float(b[:, 0].min()) / w, float(b[:, 1].min()) / h, float(b[:, 0].max()) / w,
                 float(b[:, 1].max()) / h) for b in np.asarray(boxes)]  # fmt: skip


def gate_input(image: Any) -> np.ndarray:
    """``image`` (PIL, or an array in OpenCV's BGR order: phase one's copy as ``gatecache.load``
    reads it) as the detector takes it, in one resize: longest side :data:`GATE_SIDE` (up or
    down: the detector needs text of a readable size), both sides multiples of 32, BGR, normalised
    to -1..1, NCHW. RapidOCR's own preprocessing resized a second time and normalised in float64,
    a fifth of a gate. Bicubic in one step finds small text as often as the two resizes did (text
    8-9 px high at this size: 56 of 72 against 51); a large picture is averaged down instead, so
    thin strokes are not sampled away."""
    import cv2

    if isinstance(image, np.ndarray):
        pixels, swap = image, False
    else:
        pixels, swap = np.asarray(image if image.mode == "RGB" else image.convert("RGB")), True
    scale = GATE_SIDE / max(pixels.shape[:2])
    h, w = (max(32, round(side * scale / 32) * 32) for side in pixels.shape[:2])
    how = cv2.INTER_CUBIC if scale > 0.5 else cv2.INTER_AREA
    resized = cv2.resize(pixels, (w, h), interpolation=how)
    return cv2.dnn.blobFromImage(resized, 1 / 127.5, None, (127.5, 127.5, 127.5), swapRB=swap)
