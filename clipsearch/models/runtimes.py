"""Choosing a runtime and loading an encoder: the one place that knows every runtime.

The runtimes (``torch_runtime``, ``onnx_runtime``, ``openvino_runtime``) never import each other;
this registry picks among them from what was asked, the device and what is installed, and hands
out one shared encoder per exported model so sessions and recent texts are reused.
"""

from __future__ import annotations

import logging
import os
import threading

from ..config import ENV_RUNTIME, PRECISIONS, RUNTIMES, export_precision
from ..errors import ExportError, UsageError
from .encoder import Encoder
from .exported import ExportedEncoder
from .loading import resolve_device
from .registry import ModelRef

log = logging.getLogger(__name__)


def asked_runtime(runtime: str | None) -> str:
    """The runtime asked for: the argument, else ``CLIPSEARCH_RUNTIME``, else 'auto'."""
    return (runtime or os.environ.get(ENV_RUNTIME) or "auto").lower()


def choose_runtime(runtime: str | None, device: str | None) -> tuple[str, str]:
    """(runtime, device) for what was asked. ``auto``: PyTorch on a GPU; on a CPU OpenVINO when
    installed (fastest there at every precision, see ``make bench``), else ONNX Runtime."""
    runtime = asked_runtime(runtime)
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    dev = resolve_device(device)
    if runtime == "auto":
        if dev != "cpu":
            runtime = "torch"
        elif _installed("openvino"):
            runtime = "openvino"
        else:
            runtime = "onnx" if _installed("onnxruntime") else "torch"
    return runtime, dev


def query_plan(runtime: str | None, device: str | None, precision: str) -> tuple[str, str, str]:
    """(runtime, device, precision) for queries on an index at ``precision``.

    A query embeds one text or a few images, so start-up counts, not throughput: under ``auto``,
    ONNX Runtime opens a tower in ~0.25 s where OpenVINO compiles one in ~0.4 s (a cold `similar`
    measured 0.74 s against 0.90 s), and a bf16 or int8 index's query images and texts are embedded
    at fp32 (cosine >= 0.9998 to those precisions on the corpus). A runtime asked for by name is
    used as asked.
    """
    asked = asked_runtime(runtime)
    chosen, dev = choose_runtime(asked, device)
    if asked == "auto" and chosen == "openvino" and _installed("onnxruntime"):
        return "onnx", dev, "fp32"
    return chosen, dev, precision


def load_encoder(
    ref: ModelRef,
    device: str | None = None,
    *,
    runtime: str | None = None,
    precision: str | None = None,
    queries: bool = False,
) -> Encoder:
    """Load the model named by ``ref``; raises :class:`ModelUnavailableError` with advice when offline.

    ``runtime``: 'auto' (see :func:`choose_runtime`), 'openvino', 'onnx' or 'torch'.
    ``precision``: 'fp32', 'bf16' (OpenVINO, CPUs with bfloat16 arithmetic) or 'int8' (dynamic
    quantisation, ``quantise.py``). It is the images' precision: texts run in fp32, except with
    ``runtime='onnx'`` at int8.
    On a GPU, PyTorch runs fp16 autocast whatever the precision. The ONNX files are exported from
    the open_clip model on first use and cached (``onnx_export``). ``queries``: the encoder serves
    queries, not indexing (see :func:`query_plan`).
    """
    asked = asked_runtime(runtime)
    precision = (precision or "fp32").lower()
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if queries:
        runtime, dev, precision = query_plan(asked, device, precision)
    else:
        runtime, dev = choose_runtime(asked, device)
    if runtime == "torch":
        if precision != "fp32" and dev == "cpu":
            where = "OpenVINO or ONNX Runtime" if precision == "int8" else "OpenVINO (pip install openvino)"
            raise UsageError(f"--precision {precision} runs in {where} on a CPU, not in PyTorch")
        from .torch_runtime import TorchEncoder

        return TorchEncoder(ref, device=dev)
    if dev != "cpu":
        raise UsageError(f"the {runtime} runtime runs on the CPU only; use --runtime torch for device {dev!r}")
    if runtime == "onnx" and precision == "bf16":
        raise UsageError("--precision bf16 runs in OpenVINO: pip install openvino, and use --runtime auto or openvino")
    if runtime == "openvino" and not _installed("openvino"):
        raise UsageError("--runtime openvino needs OpenVINO: pip install openvino")
    from .onnx_export import ensure_export

    try:
        return shared_encoder(ensure_export(ref, export_precision(precision)), precision, runtime)
    except ExportError as err:
        if asked != "auto" or precision != "fp32":
            raise
        log.warning("%s; running it in PyTorch instead", err)
        from .torch_runtime import TorchEncoder

        return TorchEncoder(ref, device=dev)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


_SHARED: dict[tuple[str, str, str], ExportedEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(folder: str | os.PathLike[str], precision: str, runtime: str = "onnx") -> ExportedEncoder:
    """One encoder per export, precision and runtime ('onnx' or 'openvino') in a process, so
    sessions and recent texts are reused (the query prefetch and the query path meet here)."""
    key = (str(folder), precision, runtime)
    with _SHARED_LOCK:
        encoder = _SHARED.get(key)
        if encoder is None:
            encoder = _exported_class(runtime)(folder, precision)
            _SHARED[key] = encoder
        return encoder


def _exported_class(runtime: str) -> type[ExportedEncoder]:
    """The encoder class of a runtime that runs exported graphs, imported only when chosen."""
    if runtime == "openvino":
        from .openvino_runtime import OpenVinoEncoder

        return OpenVinoEncoder
    if runtime == "onnx":
        from .onnx_runtime import OnnxEncoder

        return OnnxEncoder
    raise UsageError(f"{runtime!r} does not run exported graphs: use onnx or openvino")
