"""The image tower in OpenVINO: the fastest CPU runtime at every precision on the machines measured.

OpenVINO compiles the ONNX files ``onnx_export`` wrote from the open_clip model (no second trace).
On the 2-core AVX-512 machines ``make bench`` runs on, its fp32 runs the ViT ~1.2x faster than ONNX
Runtime; with a bfloat16 precision hint (CPUs with AVX512_BF16 or AMX) about twice as fast, at
cosine >= 0.9999 to fp32; at int8 (``quantise.py``: int8 weights, activations quantised per group
at run time) faster again, and than ONNX Runtime's int8 on VNNI
CPUs (`make bench`: planner.candidates). Texts stay in ONNX Runtime
(``exported.py``): a text query never imports OpenVINO, and text vectors and
their cache are the fp32 ones whatever the image precision.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from functools import lru_cache
from typing import Any

import numpy as np

from ..config import setting
from ..errors import ModelError, UsageError
from .encoder import normalise
from .exported import ExportedEncoder
from .quantise import OPENVINO_VISUAL

log = logging.getLogger(__name__)

#: Image precisions OpenVINO runs, and the inference precision hint each one sets.
HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
#: Activations quantised at run time per group of this many values (int8: see ``quantise.py``).
#: 128 was the fastest on an AVX-512 VNNI CPU (off runs at fp32's speed); on an AVX2-only CPU 32
#: beat it, so the planner (``planner.py``) times both per machine (`make bench`: planner.candidates).
INT8_GROUP = 128


_IMPORTING = threading.Lock()


def openvino() -> Any:
    """The ``openvino`` module, imported without its usage telemetry. Imported plainly, OpenVINO
    (2026.4, ``openvino.tools.ovc``) sends an event to Google Analytics from a forked process on
    every import, unless the user ran its opt-out script, and counts runs in ``~/intel``: a photo
    library's tool must not report on its user, and the fork cost each run a little (docs/benchmarks.md). Its
    telemetry module is hidden while OpenVINO imports, so OpenVINO takes its own stand-in (made for
    installs without it); a program that imports the real one later still can."""
    with _IMPORTING:
        hide = "openvino_telemetry" not in sys.modules
        if hide:
            sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import raises ImportError
        try:
            import openvino as ov
        finally:
            if hide and sys.modules.get("openvino_telemetry", False) is None:
                del sys.modules["openvino_telemetry"]
    return ov


@lru_cache(maxsize=1)
def core() -> Any:
    """The process's OpenVINO core, shared by the image model and PP-OCR's models (``ocr_runtime``)."""
    return openvino().Core()


def keeps_compiled() -> bool:
    """Whether compiled models are kept on disk for the next run (``CLIPSEARCH_OV_CACHE=0``: not),
    the image model's and PP-OCR's alike."""
    return setting("openvino_cache") != "0"


class FirstAlone:
    """Calls of ``request.infer(inputs)`` whose first is made alone. OpenVINO's first conversion of
    a numpy array takes a lock inside its Python binding (pybind11's once-only numpy setup) in an
    order that two threads doing it at once can deadlock (seen here: two text-pass workers' first
    gates, each waiting on the other, for good). The process has one: :func:`infer`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = threading.Event()

    def __call__(self, request: Any, inputs: dict[int, np.ndarray]) -> None:
        if not self.done.is_set():
            with self._lock:
                if not self.done.is_set():
                    request.infer(inputs)
                    self.done.set()
                    return
        request.infer(inputs)


#: ``request.infer(inputs)``, the process's first such call made alone (see :class:`FirstAlone`).
infer = FirstAlone()


def bf16_supported() -> bool:
    """Whether this CPU does bfloat16 arithmetic (OpenVINO reports it as an optimisation capability)."""
    return "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoEncoder(ExportedEncoder):
    """:class:`ExportedEncoder` whose images go through an OpenVINO model compiled at ``precision``.

    One infer request serves every caller in turn (a lock), as ONNX Runtime's session does.
    """

    def __init__(
        self, folder: str | os.PathLike[str], precision: str = "fp32", threads: int | None = None, group: int = 0,
        compile_cache: bool = False,
    ) -> None:  # fmt: skip
        """``group``: int8 activations quantised per group of this many values (0: INT8_GROUP);
        ``compile_cache``: keep the compiled model on disk (the planner's choice, not every candidate)."""
        if precision not in HINTS:
            raise UsageError(f"OpenVINO runs {', '.join(HINTS)}, not {precision!r}")
        super().__init__(folder, "fp32", threads)
        self.image_precision = precision
        self.group = group or INT8_GROUP
        self.compile_cache = compile_cache
        self._request: Any = None
        self._infer_lock = threading.Lock()

    def _image_runner(self) -> Any:
        with self._locks["visual"]:
            if self._request is None:
                hint = HINTS[self.image_precision]
                if hint == "bf16" and not bf16_supported():
                    log.warning("this CPU has no bfloat16 arithmetic (AVX512_BF16 or AMX): images run in fp32")
                    hint = "f32"
                if self.image_precision == "int8":
                    name = self.meta["files"].get("int8", {}).get(OPENVINO_VISUAL)
                    if name is None:  # an export folder from before OpenVINO ran int8, opened directly
                        raise ModelError(f"no OpenVINO int8 graph in {self.folder}: ensure_export(ref, 'int8') adds it")
                    path = self.folder / name
                else:
                    path = self.folder / self.meta["files"]["fp32"]["visual"]
                config: dict[str, Any] = {
                    "INFERENCE_NUM_THREADS": self.threads,
                    "INFERENCE_PRECISION_HINT": hint,
                    "PERFORMANCE_HINT": "LATENCY",
                    # Pinned threads fight the decoding threads for their cores (measured: pinned
                    # fp32 indexing was slower, with three times the sys time; `make bench`: index).
                    "ENABLE_CPU_PINNING": False,
                }
                if self.compile_cache and keeps_compiled():
                    # the compiled model beside the export: a later run's compile is a read
                    # (`make bench`: one_photo_new_index_s), for ~340 MB of disk per model (the planned one only)
                    config["CACHE_DIR"] = str(self.folder / "openvino-cache")
                if self.image_precision == "int8":
                    config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = self.group
                try:
                    compiled = core().compile_model(str(path), "CPU", config)
                except Exception as err:  # a damaged cache entry or an unsupported CPU: say what to do
                    raise ModelError(
                        f"OpenVINO cannot compile {path} ({str(err).strip()[:160]}); "
                        f"delete {self.folder} to export it again, or pass --runtime onnx"
                    ) from err
                self._request = compiled.create_infer_request()
            return self._request

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        request = self._image_runner()
        with self._infer_lock:
            infer(request, {0: np.ascontiguousarray(batch, dtype=np.float32)})
            out = normalise(request.get_output_tensor(0).data)  # a new array: the request's buffer is reused
        return out
