"""Choosing a runtime and loading an encoder: the one place that knows every runtime.

The runtimes (``torch_runtime``, ``onnx_runtime``, ``openvino_runtime``) never import each other;
this registry picks among them from what was asked, the device and what is installed, and hands
out one shared encoder per exported model so sessions and recent texts are reused.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from ..config import PRECISIONS, RUNTIMES, export_precision, setting
from ..errors import ExportError, UsageError
from .encoder import Encoder, EncoderHandle
from .exported import ExportedEncoder
from .loading import resolve_device
from .registry import ModelRef

log = logging.getLogger(__name__)


def asked_runtime(runtime: str | None) -> str:
    """The runtime asked for: the argument, else ``CLIPSEARCH_RUNTIME``, else 'auto'."""
    return (runtime or setting("runtime") or "auto").lower()


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
        elif is_installed("openvino"):
            runtime = "openvino"
        else:
            runtime = "onnx" if is_installed("onnxruntime") else "torch"
    return runtime, dev


def query_plan(runtime: str | None, device: str | None, precision: str) -> tuple[str, str, str]:
    """(runtime, device, precision) for queries on an index at ``precision``.

    A query embeds one text or a few images, so start-up counts, not throughput: under ``auto``,
    ONNX Runtime opens a tower faster than OpenVINO compiles one (`make bench`: cold_query_s),
    and a bf16 or int8 index's query images and texts are embedded
    at fp32 (cosine >= 0.9998 to those precisions on the corpus). A runtime asked for by name is
    used as asked.
    """
    asked = asked_runtime(runtime)
    chosen, dev = choose_runtime(asked, device)
    if asked == "auto" and chosen == "openvino" and is_installed("onnxruntime"):
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
    ``precision``: 'auto' (the planner's choice on this CPU, ``planner.py``), 'fp32', 'bf16'
    (OpenVINO, CPUs with bfloat16 arithmetic) or 'int8' (dynamic quantisation, ``quantise.py``).
    None means fp32. It is the images' precision: texts run in fp32, except with
    ``runtime='onnx'`` at int8. On a CPU, a runtime or precision left to 'auto' is chosen by
    measurement (the planner), the other one forcing it; both named: used as named.
    On a GPU, PyTorch runs fp16 autocast whatever the precision. The ONNX files are exported from
    the open_clip model on first use and cached (``onnx_export``). ``queries``: the encoder serves
    queries, not indexing (see :func:`query_plan`). The encoder's ``run_note`` says what runs and why.
    """
    asked = asked_runtime(runtime)
    precision = (precision or "fp32").lower()
    if precision not in (*PRECISIONS, "auto"):
        raise UsageError(f"unknown precision {precision!r}: use auto or one of {', '.join(PRECISIONS)}")
    if queries:
        runtime, dev, precision = query_plan(asked, device, "fp32" if precision == "auto" else precision)
    else:
        runtime, dev = choose_runtime(asked, device)
    planned = dev == "cpu" and not queries and runtime != "torch" and (asked == "auto" or precision == "auto")
    if planned:
        return _planned(ref, asked, precision)
    if precision == "auto":
        precision = "fp32"
    if runtime == "torch":
        if precision != "fp32" and dev == "cpu":
            where = "OpenVINO or ONNX Runtime" if precision == "int8" else "OpenVINO (pip install openvino)"
            raise UsageError(f"--precision {precision} runs in {where} on a CPU, not in PyTorch")
        return _torch(ref, dev, f"PyTorch on {dev}" + (" (fp16 autocast)" if dev.startswith("cuda") else ""))
    if dev != "cpu":
        raise UsageError(f"the {runtime} runtime runs on the CPU only; use --runtime torch for device {dev!r}")
    if runtime == "onnx" and precision == "bf16":
        raise UsageError("--precision bf16 runs in OpenVINO: pip install openvino, and use --runtime auto or openvino")
    if runtime == "openvino" and not is_installed("openvino"):
        raise UsageError("--runtime openvino needs OpenVINO: pip install openvino")
    from .onnx_export import ensure_export

    encoder = shared_encoder(ensure_export(ref, export_precision(precision)), precision, runtime)
    return EncoderHandle(encoder, run_note={"runtime": runtime, "precision": precision, "group": 0, "why": "as asked"})


def _torch(ref: ModelRef, dev: str, why: str) -> Encoder:
    from .torch_runtime import TorchEncoder

    return EncoderHandle(TorchEncoder(ref, device=dev),
                         run_note={"runtime": "torch", "precision": "fp32", "group": 0, "why": why})  # fmt: skip


def _planned(ref: ModelRef, asked: str, precision: str) -> Encoder:
    """The configuration the planner measured fastest on this CPU (planning first if this CPU
    has no plan for the model yet), within what was forced; PyTorch when it cannot be exported."""
    from . import planner
    from .onnx_export import ensure_export

    try:
        folder = ensure_export(ref, "int8")
    except ExportError as err:
        if precision not in {"fp32", "auto"} or asked != "auto":
            raise
        log.warning("%s; running it in PyTorch instead", err)
        return _torch(ref, "cpu", f"PyTorch: the exporter cannot handle this model ({str(err)[:120]})")
    installed = {r for r, m in (("openvino", "openvino"), ("onnx", "onnxruntime")) if is_installed(m)}
    if precision == "bf16" and "openvino" not in installed:
        raise UsageError("--precision bf16 runs in OpenVINO: pip install openvino")
    plan = planner.read_plan(folder)
    if plan is None or not installed <= {c["runtime"] for c in plan["candidates"]}:
        configs = planner.candidates("openvino" in installed, "onnx" in installed, _bf16())
        reference = shared_encoder(folder, "fp32", "onnx" if "onnx" in installed else "openvino")
        plan = planner.run_plan(folder, lambda c: shared_encoder(folder, c.precision, c.runtime, c.group),
                                configs, reference)  # fmt: skip
    config, why = planner.choose(plan, None if asked == "auto" else asked, precision, installed)
    _forget_others(folder, keep=(config.precision, config.runtime, config.group))
    # this configuration runs on every index here: its compiled model is kept (OpenVINO)
    encoder = shared_encoder(folder, config.precision, config.runtime, config.group, keep_compiled=True)
    note = {"runtime": config.runtime, "precision": config.precision, "group": config.group, "why": why}
    return EncoderHandle(encoder, run_note=note)


def _bf16() -> bool:
    if not is_installed("openvino"):
        return False
    from .openvino_runtime import bf16_supported

    return bf16_supported()


def is_installed(module: str) -> bool:
    """Whether ``module`` (a runtime's package) can be imported here, without importing it."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


_SHARED: dict[tuple[str, str, str, int], ExportedEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(
    folder: str | os.PathLike[str], precision: str, runtime: str = "onnx", group: int = 0,
    keep_compiled: bool = False,
) -> ExportedEncoder:  # fmt: skip
    """One encoder per export, precision, runtime ('onnx' or 'openvino') and OpenVINO int8 group
    size in a process, so sessions and recent texts are reused (the query prefetch and the query
    path meet here). Never changed once made: what differs between callers lives on their
    :class:`~.encoder.EncoderHandle`. ``keep_compiled``: an OpenVINO model is compiled from (and
    into) the user's cache, for the configuration the planner chose (asked by whoever makes it
    first: in the run that plans, its measuring compiled it already, as it would have anyway)."""
    key = (str(folder), precision, runtime, group)
    with _SHARED_LOCK:
        encoder = _SHARED.get(key)
        if encoder is None:
            kwargs: dict[str, Any] = {"group": group} if group else {}
            if runtime == "openvino":
                kwargs["compile_cache"] = keep_compiled
            encoder = _exported_class(runtime)(folder, precision, **kwargs)
            _SHARED[key] = encoder
        return encoder


def _forget_others(folder: os.PathLike[str], keep: tuple[str, str, int]) -> None:
    """Drop the image runners the planner loaded and did not choose (each holds compiled weights);
    the ONNX Runtime fp32 encoder stays, since queries use its text sessions."""
    with _SHARED_LOCK:
        for key in [k for k in _SHARED if k[0] == str(folder) and k[1:] != keep and k[1:] != ("fp32", "onnx", 0)]:
            del _SHARED[key]


def _exported_class(runtime: str) -> type[ExportedEncoder]:
    """The encoder class of a runtime that runs exported graphs, imported only when chosen."""
    if runtime == "openvino":
        from .openvino_runtime import OpenVinoEncoder

        return OpenVinoEncoder
    if runtime == "onnx":
        from .onnx_runtime import OnnxEncoder

        return OnnxEncoder
    raise UsageError(f"{runtime!r} does not run exported graphs: use onnx or openvino")
