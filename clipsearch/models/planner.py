"""Which runtime and precision run a model fastest on *this* CPU, chosen by measurement, once.

A choice tuned on one CPU is wrong on the next: on an AVX-512 VNNI machine OpenVINO's int8 ran
faster than ONNX Runtime's, on an AVX2-only one slower than its own fp32 (`make bench`:
planner.candidates, docs/benchmarks.md has both CPUs), while ONNX
Runtime's int8 there lost parity (cosine 0.9836: u8s8 products saturate without VNNI). So on a
model's first use on a machine (when its export happens anyway) each candidate configuration

- OpenVINO fp32, bf16 (where the CPU has bfloat16 arithmetic), int8 at activation group sizes 32
  and 128; ONNX Runtime fp32 and int8; PyTorch only where the model could not be exported,

runs a few batches of the same pictures, is timed, and is checked for parity with fp32 (lowest
cosine >= :data:`MIN_COSINE` over :func:`parity_pictures`). The fastest that keeps parity wins.
The table is cached beside the export (``plan-<signature>.json``), keyed by the CPU signature
(model name, ISA flags, cores) and the runtimes' versions: a new CPU or library plans again.
``--runtime`` and ``--precision`` given by name still force a configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..errors import ModelError

PLAN_VERSION = 1
#: Lowest cosine to fp32 over the parity pictures that a configuration must keep.
MIN_COSINE = 0.999
#: ISA flags that change which kernels the runtimes pick.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
             "amx_int8", "amx_tile", "avx512_fp16", "asimd", "sve", "i8mm", "bf16")  # fmt: skip
#: Pictures per timed batch, and timed batches per candidate (after one warm-up batch).
BATCH = 16
ROUNDS = 2


@dataclass(frozen=True)
class Config:
    """One way to run the image tower: ``runtime`` at ``precision`` (``group``: OpenVINO int8's
    activation group size; 0 elsewhere)."""

    runtime: str
    precision: str
    group: int = 0

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}" + (f" (group {self.group})" if self.group else "")


@lru_cache(maxsize=1)
def cpu_signature() -> dict[str, Any]:
    """This CPU as the planner keys it: model name, the ISA flags that matter, core count."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in {"model name", "Hardware"} and name in {platform.machine(), ""}:
                    name = value.strip()
                elif key in {"flags", "Features"}:
                    flags.update(value.split())
                    break
    except OSError:
        pass
    return {"model": name, "flags": [f for f in ISA_FLAGS if f in flags], "cores": os.cpu_count() or 1}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("onnxruntime", "openvino"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = ""
    return out


def signature() -> dict[str, Any]:
    return {"plan_version": PLAN_VERSION, "cpu": cpu_signature(), "versions": _versions()}


def plan_file(export_folder: Path) -> Path:
    digest = hashlib.sha256(json.dumps(signature(), sort_keys=True).encode()).hexdigest()[:12]
    return export_folder / f"plan-{digest}.json"


def candidates(openvino: bool, onnx: bool, bf16: bool) -> list[Config]:
    out: list[Config] = []
    if openvino:
        out += [Config("openvino", "fp32")] + [Config("openvino", "bf16")] * bf16
        out += [Config("openvino", "int8", 32), Config("openvino", "int8", 128)]
    if onnx:
        out += [Config("onnx", "fp32"), Config("onnx", "int8")]
    return out


def parity_pictures(info: Any, n: int = 12) -> np.ndarray:
    """Deterministic pictures with what breaks quantisation: smooth photo-like gradients with
    noise, flat areas, saturated colours, thin black lines on white (drawings), preprocessed as
    the model expects."""
    from PIL import Image, ImageDraw

    from .preprocess import Preprocessor

    rng = np.random.default_rng(7)
    pre = Preprocessor.for_model(info)
    size = 320
    out = []
    for i in range(n):
        yy, xx = np.mgrid[0:size, 0:size] / size
        if i % 3 == 2:  # a drawing: thin lines and text-like strokes on white
            img = Image.new("RGB", (size, size), "white")
            draw = ImageDraw.Draw(img)
            for _ in range(30):
                x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, 4))
                draw.line([x0, y0, x1, y1], fill="black", width=int(rng.integers(1, 3)))
        else:
            base = np.stack([np.sin(xx * rng.uniform(2, 9) + i), np.cos(yy * rng.uniform(2, 9)), xx * yy], -1)
            arr = ((base + 1) * 110 + rng.normal(0, 18 * (i % 3), base.shape)).clip(0, 255).astype(np.uint8)
            img = Image.fromarray(arr)
            draw = ImageDraw.Draw(img)
            for _ in range(6):
                x, y = (int(v) for v in rng.integers(0, size, 2))
                draw.ellipse([x, y, x + 60, y + 40], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        out.append(pre(img))
    return np.stack(out)


def measure(encoder: Any, pictures: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(images/s over ROUNDS timed batches after a warm-up, lowest cosine to ``reference``)."""
    batch = np.concatenate([pictures] * (BATCH // len(pictures) + 1))[:BATCH]
    vectors = encoder.encode_images(pictures)  # warm-up (compiles, allocates) and parity at once
    started = time.perf_counter()
    for _ in range(ROUNDS):
        encoder.encode_images(batch)
    rate = BATCH * ROUNDS / (time.perf_counter() - started)
    return rate, float((vectors * reference).sum(axis=1).min())


def run_plan(export_folder: Path, load: Any, configs: list[Config], reference: Any) -> dict[str, Any]:
    """Time and check each of ``configs`` (``load(config)`` gives its encoder), fastest first;
    ``reference`` is the fp32 encoder the parity is measured against."""
    pictures = parity_pictures(reference.info)
    want = reference.encode_images(pictures)
    rows = []
    for config in configs:
        row: dict[str, Any] = asdict(config)
        try:
            rate, cosine = measure(load(config), pictures, want)
            row.update(images_per_s=round(rate, 2), cosine_min=round(cosine, 6), ok=cosine >= MIN_COSINE)
        except (ModelError, RuntimeError, OSError) as err:  # a runtime that cannot run it here
            row.update(images_per_s=None, cosine_min=None, ok=False, error=str(err)[:200])
        rows.append(row)
    rows.sort(key=lambda r: -(r["images_per_s"] or 0))
    plan = {**signature(), "planned_at": time.time(), "min_cosine": MIN_COSINE, "batch": BATCH,
            "candidates": rows}  # fmt: skip
    write_json_atomic(plan_file(export_folder), plan)
    return plan


def read_plan(export_folder: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads(plan_file(export_folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plan if plan.get("cpu") == signature()["cpu"] and plan.get("versions") == _versions() else None


def _config(row: dict[str, Any]) -> Config:
    return Config(row["runtime"], row["precision"], int(row.get("group") or 0))


def choose(
    plan: dict[str, Any], runtime: str | None, precision: str | None, installed: set[str] | None = None
) -> tuple[Config, str]:
    """The fastest candidate that kept parity, among those of ``runtime`` / ``precision`` when
    given (an index remembers its precision) and of the ``installed`` runtimes; a precision none
    of whose candidates kept parity here falls back to fp32. Returns the configuration and why."""
    ok = [r for r in plan["candidates"] if r["ok"] and (installed is None or r["runtime"] in installed)]
    pick = [r for r in ok if (runtime in {None, "auto"} or r["runtime"] == runtime)]
    narrowed = [r for r in pick if precision in {None, "auto"} or r["precision"] == precision]
    if not narrowed:
        narrowed = [r for r in pick if r["precision"] == "fp32"] or pick
    if not narrowed:
        raise ModelError("no configuration of this model kept parity with fp32 on this CPU; pass --runtime torch")
    best = narrowed[0]
    config = _config(best)
    others = ", ".join(
        f"{_config(r).label} {r['images_per_s'] or 'failed'}" for r in plan["candidates"] if r is not best
    )
    lost = precision not in {None, "auto", config.precision}
    why = (f"planned on this CPU: {config.label} at {best['images_per_s']} images/s, cosine {best['cosine_min']} "
           f"to fp32" + (f" ({precision} lost parity here)" if lost else "") + f"; others: {others}")  # fmt: skip
    return config, why
