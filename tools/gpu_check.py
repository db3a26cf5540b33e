#!/usr/bin/env python3
"""The GPU paths in one prepared run: `python tools/gpu_check.py` on a machine with a GPU.

- fp16 images/s: ViT-B-32-256 (random weights: the cost of pretrained ones) through clipsearch's
  own PyTorch encoder (fp16 autocast on CUDA) at batch 256, with decoding ahead: a thread pool
  decodes and preprocesses the next batches (clipsearch's loader, JPEG draft mode) while the GPU
  runs the current one, as the indexer does;
- gpu_busy_share: the share of the wall time the GPU spent in the model (CUDA events around each
  batch), i.e. how well decoding keeps it fed;
- kmeans_s: FAISS k-means (the IVF training step of a large index) on --kmeans-n random 512-d
  vectors, on the GPU when faiss has GPU support (``faiss-gpu``), else on the CPU and it says so.

Without a GPU it runs the same code on the CPU (smaller sizes in the tests) and says "device": "cpu".
Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _photos(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    small = (size[0] // 8, size[1] // 8)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 255, (small[1], small[0], 3), dtype=np.uint8)
        path = folder / f"p{i:05d}.jpg"
        Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def embed(paths: list[Path], batch: int, device: str, model: str, pretrained: str) -> dict[str, Any]:
    """Images/s end to end with decoding ahead, and the GPU's busy share (CUDA events)."""
    from clipsearch.ingest.images import load_image
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.torch_runtime import TorchEncoder

    enc = TorchEncoder(resolve_model_ref(model, pretrained), device=device)
    torch = enc._torch
    size = enc.info.image_size

    def load(path: Path) -> np.ndarray:
        return enc.preprocess(load_image(path, size))

    cuda = device.startswith("cuda")
    workers = max(1, (os.cpu_count() or 2) - 1)
    warm = np.stack([load(paths[0])] * min(batch, 8))
    enc.encode_images(warm)  # kernels chosen, memory allocated
    busy = 0.0
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        batches = [paths[i : i + batch] for i in range(0, len(paths), batch)]
        ahead = [pool.map(load, b) for b in batches[:2]]
        for i in range(len(batches)):
            arrays = np.stack(list(ahead[i]))
            if i + 2 < len(batches):
                ahead.append(pool.map(load, batches[i + 2]))
            if cuda:
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                begin.record()
            enc.encode_images(arrays)
            if cuda:
                end.record()
                end.synchronize()
                busy += begin.elapsed_time(end) / 1000
    wall = time.perf_counter() - started
    return {"images": len(paths), "batch": batch, "images_per_s": round(len(paths) / wall, 1),
            "gpu_busy_share": round(busy / wall, 3) if cuda else None, "decode_workers": workers,
            "precision": "fp16 autocast" if cuda else "fp32"}  # fmt: skip


def kmeans(n: int, k: int, dim: int = 512) -> dict[str, Any]:
    import faiss

    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    km = faiss.Kmeans(dim, k, niter=10, seed=1, gpu=gpu, spherical=True, verbose=False)
    started = time.perf_counter()
    km.train(x)
    return {
        "n": n,
        "k": k,
        "niter": 10,
        "on": "gpu" if gpu else "cpu",
        "kmeans_s": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, nargs=2, default=[1600, 1200], help="generated JPEG size")
    parser.add_argument("--kmeans-n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--model", default="ViT-B-32-256")
    parser.add_argument("--pretrained", default="none")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    from clipsearch.models.loading import pick_device

    device = pick_device(args.device)
    out: dict[str, Any] = {"device": device}
    if device.startswith("cuda"):
        import torch

        out["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _photos(Path(tmp), args.images, tuple(args.size))
        out["embed"] = embed(paths, args.batch, device, args.model, args.pretrained)
    print("embed:", out["embed"], flush=True)
    out["kmeans"] = kmeans(args.kmeans_n, args.k)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
