"""Where PP-OCR's ONNX models run: OpenVINO, in bfloat16 where the CPU computes in it natively.

On this project's CPUs OpenVINO runs every PP-OCR model faster than ONNX Runtime, bf16 most of
all (`make bench`: stages_ms; docs/benchmarks.md gives the figures and their CPU): the gate's
detector, and the reader's detector, angle classifier and recogniser. A :class:`Session` stands in
for an ONNX Runtime session (an array in, the first output out); where OpenVINO is missing or a
model does not compile, :func:`session` gives None and the caller keeps ONNX Runtime (slower,
never wrong). Compiled models are kept in the user's cache, as the image model's are, so a later
run's engine start reads them instead of compiling again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..models.openvino_runtime import bf16_supported, infer

#: Whether PP-OCR runs in bfloat16 where the CPU does it natively (AVX-512 BF16, AMX), for the
#: models that keep their results in it (:data:`BF16_MODELS`). Measured on the corpus drawings
#: (`make bench`: ocr; docs/benchmarks.md has the figures and their CPU): the reader's recogniser
#: and classifier in bf16 read a page in three quarters of fp32's time, every label found either
#: way; its detector in bf16 lost a label ("45°" on Gripper.jpg) and saved little, so it stays
#: fp32. The gate in bf16 finds what fp32 finds on the bench's signs and on text drawn small at its
#: size, faster (`make bench`: stages_ms.photo_gate); its false alarms differ (grain in a photo,
#: where fp32 has others): their crops are read and dropped (``ocr._kept_crop``).
BF16 = True
#: The models run in bf16 where :data:`BF16` and the CPU allow: the gate's detector, the reader's
#: angle classifier and recogniser.
BF16_MODELS = frozenset(
    {"ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx", "PP-OCRv6_rec_small.onnx"}
)
#: A picture shape met this often gets a graph compiled for that shape alone, which OpenVINO runs
#: faster than the one for any shape (`make bench`: stages_ms.photo_gate); a library's photos come
#: in a few shapes (4:3, 3:2, 16:9, each upright or not). At most :data:`STATIC_SHAPES` of them.
STATIC_AFTER = 4
STATIC_SHAPES = 6


class Session:
    """One PP-OCR model compiled by OpenVINO, for one thread: ``session(array)`` is its first
    output. With ``static``, a shape met :data:`STATIC_AFTER` times gets a graph of its own."""

    def __init__(self, compile_for: Callable[[tuple[int, ...] | None], Any], static: bool,
                 characters: list[str]) -> None:  # fmt: skip
        self._compile_for = compile_for
        self._request = compile_for(None).create_infer_request()
        self._characters = characters
        self._seen: Counter[tuple[int, ...]] = Counter()
        self._static: dict[tuple[int, ...], Any] = {}
        self._room = STATIC_SHAPES if static else 0

    def __call__(self, array: np.ndarray) -> np.ndarray:
        request = self._static.get(array.shape) or self._request
        if request is self._request and len(self._static) < self._room:
            self._seen[array.shape] += 1
            if self._seen[array.shape] == STATIC_AFTER:
                try:
                    request = self._static[array.shape] = self._compile_for(array.shape).create_infer_request()
                except Exception:  # the shape stays on the graph for any shape: slower, never wrong
                    self._static[array.shape] = self._request
        infer(request, {0: np.ascontiguousarray(array, dtype=np.float32)})
        return request.get_output_tensor(0).data.copy()

    # what rapidocr's recogniser asks of a session: the dictionary inside the model
    def have_key(self, key: str = "character") -> bool:
        return bool(self.get_character_list(key))

    def get_character_list(self, key: str = "character") -> list[str]:
        return self._characters if key == "character" else []


def uses_bf16(path: Path) -> bool:
    """Whether ``path``'s model runs in bfloat16 on this CPU (see :data:`BF16`): the image model's
    own test of the CPU (OpenVINO's BF16 capability)."""
    return BF16 and path.name in BF16_MODELS and bf16_supported()


def session(path: Path, threads: int | None, *, static: bool = False, dictionary: bool = False) -> Session | None:
    """``path``'s model compiled by OpenVINO for one thread's use with ``threads`` cores (None:
    OpenVINO's choice), or None where OpenVINO is missing or cannot compile it. ``dictionary``: a
    recogniser's, whose characters are read from the file."""
    try:
        from ..models.onnx_export import cache_root
        from ..models.openvino_runtime import core, keeps_compiled

        # not pinned: the text pass runs one engine per worker thread, and OpenVINO pins each
        # compiled model's threads from the first core on, so two workers shared one core
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False,
                                  "INFERENCE_PRECISION_HINT": "bf16" if uses_bf16(path) else "f32"}  # fmt: skip
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        if keeps_compiled():
            config["CACHE_DIR"] = str(cache_root() / "openvino-ocr")
        ov = core()

        def compile_for(shape: tuple[int, ...] | None) -> Any:
            graph: Any = str(path)  # from its path, a cached graph is read without the model
            if shape is not None:  # a graph of its own for this shape (the one for any shape stays)
                graph = ov.read_model(path)
                graph.reshape(list(shape))
            try:
                return ov.compile_model(graph, "CPU", config)
            except Exception:  # a cache that cannot be written or read: compile afresh
                return ov.compile_model(graph, "CPU", {k: v for k, v in config.items() if k != "CACHE_DIR"})

        return Session(compile_for, static, _characters(ov.read_model(path)) if dictionary else [])
    except Exception:  # ONNX Runtime's session stays: slower, never wrong
        return None


def _characters(model: Any) -> list[str]:
    """The recogniser's dictionary, kept inside its ONNX file (none in a detector's)."""
    try:
        return str(model.get_rt_info()["framework"]["character"].value).splitlines()
    except Exception:
        return []
