"""The int8 files of an export, made from its fp32 ONNX files (no second trace of the model).

Two kinds, both *dynamic* quantisation: weights are int8, stored once, and each batch's activations
are quantised at run time from their own range, so no calibration data is needed and no picture
can fall outside a calibrated range.

- ``{tower}.int8.onnx``: ONNX Runtime's ``quantize_dynamic`` (MatMulInteger graphs, activations
  quantised per tensor). Run by ``--runtime onnx``.
- ``visual.w8.onnx``: the fp32 image graph with every matrix-multiply weight stored as int8 with
  one scale per output channel (``DequantizeLinear`` in front of the ``MatMul``). OpenVINO reads
  that as compressed weights and, with ``DYNAMIC_QUANTIZATION_GROUP_SIZE``, quantises the
  activations per group of 128 values at run time, so the products run in int8 (VNNI, AMX; a CPU
  without them runs the int8 weights in fp32 arithmetic). On the machines ``make bench`` runs on
  this is faster than ONNX Runtime's int8 (`make bench`: planner.candidates) and closer to fp32
  (finer activation scales).

Importing this module is cheap; quantising imports onnx and ONNX Runtime.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The key of OpenVINO's int8 image graph among an export's int8 files.
OPENVINO_VISUAL = "visual_w8"
#: Matrices smaller than this stay fp32 (biases, tiny toy layers): nothing to gain.
MIN_WEIGHTS = 4096


def quantise_export(folder: Path, fp32_files: dict[str, str]) -> dict[str, str]:
    """Write the int8 files next to ``fp32_files`` (tower -> file name) and return theirs."""
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=folder, prefix=".quant-") as tmp, _quiet():
        made: list[str] = []
        for tower, name in fp32_files.items():
            files[tower] = f"{tower}.int8.onnx"
            _ort_dynamic(folder / name, Path(tmp) / files[tower])
            made.append(files[tower])
        files[OPENVINO_VISUAL] = "visual.w8.onnx"
        weights = "visual.w8.weights"
        int8_weights(folder / fp32_files["visual"], Path(tmp) / files[OPENVINO_VISUAL], weights)
        # The graph last: a graph on disk always finds its weights file.
        for name in [weights, *made, files[OPENVINO_VISUAL]]:
            os.replace(Path(tmp) / name, folder / name)
    return files


def _ort_dynamic(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def int8_weights(src: Path, dst: Path, weights_file: str) -> int:
    """Copy the graph at ``src`` to ``dst`` with each constant MatMul/Gemm weight as int8 plus a
    per-output-channel fp32 scale (symmetric, ``max|w| / 127``). Returns how many were converted."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    nodes: list[Any] = []
    converted = 0
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 else None
        if weight is None or len(weight.dims) != 2 or uses[weight.name] != 1:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).astype(np.float32)
        if w.size < MIN_WEIGHTS:
            nodes.append(node)
            continue
        trans_b = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
        axis = 0 if trans_b else 1  # the output-channel axis of the weight
        scale = np.abs(w).max(axis=1 - axis, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        graph.initializer.remove(weight)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{weight.name}.q"),
                numpy_helper.from_array(scale.reshape(-1).astype(np.float32), f"{weight.name}.scale"),
            ]
        )
        nodes.append(
            helper.make_node(
                "DequantizeLinear", [f"{weight.name}.q", f"{weight.name}.scale"], [f"{weight.name}.dq"], axis=axis
            )
        )
        node.input[1] = f"{weight.name}.dq"
        nodes.append(node)
        converted += 1
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save_model(model, str(dst), save_as_external_data=True, size_threshold=1024,
                    all_tensors_to_one_file=True, location=weights_file)  # fmt: skip
    return converted


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantiser logs advice ("consider pre-processing") through the root logger: not ours to show."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
