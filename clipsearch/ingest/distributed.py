"""Embedding on a Ray cluster (``index --ray local|ADDRESS``): the same work as a local run, spread.

The scan and the plan stay in the driver, as in a local run; so do the catalog commits. What is to
embed runs as a Ray Data pipeline, the standard shape for batch inference with separate CPU and
GPU stages (NVIDIA NeMo Curator, img2dataset's Ray distributor):

- **CPU tasks** read, hash and decode files (``decode.prepare``, the local code) with the model's
  preprocessing as data (no model in them);
- **an actor pool** holds the encoder: PyTorch fp16 on each GPU when the cluster has GPUs, else the
  runtime and precision the planner chose for the node's CPU; it adds the page (and region)
  vectors;
- results stream back to the driver, which commits them in batches as a local run does. A crash
  loses at most the batches in flight, and a rerun embeds only what is missing.

Ray retries a task or restarts an actor whose worker died; Ray Data hands each block to the driver
once, and the driver stores each file once (its path is the key), so a killed worker loses and
doubles nothing (``tests/test_ray.py`` kills one mid-run). Every node must read the files at the
same paths (a shared mount); the README says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..models.preprocess import Preprocessor
from ..models.registry import ModelInfo, ModelRef
from .decode import Prepared, embed_regions, prepare
from .options import IndexOptions
from .scan import FoundFile

#: Files per decoding task, and the object store a local cluster gets (small: 2-core machines).
DECODE_BATCH = 8
LOCAL_OBJECT_STORE = 256 * 2**20


@dataclass(frozen=True)
class Preprocessing:
    """The model's preprocessing without the model: what a decoding task needs of an encoder."""

    info: ModelInfo

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        return Preprocessor.for_model(self.info, letterbox=letterbox)(image)


def connect(address: str) -> Any:
    """``local``: a cluster on this machine sized to it (no dashboard, a small object store);
    otherwise the address of a running cluster (``ray://host:10001`` or ``host:6379``)."""
    try:
        import ray
    except ImportError as err:
        raise UsageError("--ray needs Ray: pip install 'clipsearch[scale]' (or ray[data])") from err
    if not ray.is_initialized():
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the core worker's log lines: failures still raise
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False,
                     **quiet)  # fmt: skip
        else:
            ray.init(address=address, **quiet)
    return ray


def _decode(batch: dict[str, Any], info: ModelInfo, opts: IndexOptions, known: frozenset[str]) -> dict[str, Any]:
    pre = Preprocessing(info)
    out = []
    for blob in batch["work"]:
        found, enrich = pickle.loads(blob)
        out.append(pickle.dumps(prepare(found, known, pre, opts, enrich)))  # type: ignore[arg-type]
    return {"prepared": np.array(out, dtype=object)}


class _Embed:
    """The actor: one encoder, loaded once, adding vectors to the pages of each batch."""

    def __init__(self, ref: ModelRef, runtime: str | None, precision: str | None, gpu: bool) -> None:
        from ..models.runtimes import load_encoder

        self.encoder = load_encoder(ref, "cuda" if gpu else "cpu", runtime=runtime, precision=precision)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        preps: list[Prepared] = [pickle.loads(b) for b in batch["prepared"]]
        pages = [p for prep in preps if not (prep.reason or prep.reuse or prep.enrich) for p in prep.pages]
        if pages:
            vectors = self.encoder.encode_images(np.stack([p.array for p in pages]))
            regions = embed_regions(self.encoder, pages, vectors, None)  # every page's; the driver filters
            for page, vec, region_vectors in zip(pages, vectors, regions, strict=True):
                page.vector, page.region_vectors = vec, region_vectors
                page.array = np.zeros(0, np.float32)  # the pixels stay on the worker
                page.regions = {}
        return {"prepared": np.array([pickle.dumps(p) for p in preps], dtype=object)}


def ray_prepared(
    todo: list[FoundFile],
    info: ModelInfo,
    ref: ModelRef,
    encoding: dict[str, Any],
    opts: IndexOptions,
    known: frozenset[str],
    enrich: frozenset[str],
) -> Iterator[Prepared]:
    """``todo`` read, decoded and embedded on the cluster at ``opts.ray``; Prepared files whose
    pages carry their vectors, streamed back as they are done."""
    ray = connect(str(opts.ray))
    if not todo:
        return
    _quiet(ray)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    work = [{"work": pickle.dumps((f, f.path in enrich))} for f in todo]
    ds = ray.data.from_items(work, override_num_blocks=max(1, len(todo) // DECODE_BATCH))
    ds = ds.map_batches(_decode, batch_size=DECODE_BATCH, num_cpus=1,
                        fn_kwargs={"info": info, "opts": opts, "known": known})  # fmt: skip
    runtime, precision = (None, None) if gpus else (encoding.get("runtime"), encoding.get("precision"))
    # The actor asks for less than a whole CPU: with equal requests Ray Data fuses the decoding into
    # the actor, and one process then decodes everything. Its runtime uses the node's cores anyway.
    ds = ds.map_batches(
        _Embed, batch_size=opts.batch_size, compute=ray.data.ActorPoolStrategy(size=max(1, gpus)),
        num_gpus=1 if gpus else 0, num_cpus=0.5 if not gpus else 0.1,
        fn_constructor_kwargs={"ref": ref, "runtime": runtime, "precision": precision, "gpu": bool(gpus)},
    )  # fmt: skip
    with contextlib.redirect_stdout(sys.stderr):  # Ray Data's own prints would land in a --json report
        for batch in ds.iter_batches(batch_size=opts.batch_size, batch_format="numpy"):
            for blob in batch["prepared"]:
                yield pickle.loads(blob)


def _quiet(ray: Any) -> None:
    """No progress bars, stats or log lines from Ray Data on the user's terminal."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = ctx.enable_operator_progress_bars = False
    ctx.print_on_execution_start = ctx.enable_auto_log_stats = False
    for name in ("ray", "ray.data"):  # after ray.data configured its own loggers on import
        logging.getLogger(name).setLevel(logging.ERROR)
