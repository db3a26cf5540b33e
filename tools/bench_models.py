#!/usr/bin/env python3
"""Model families side by side (part of `make bench`): each preset and the candidate default beside
ViT-B-32-256, in one run, on one CPU.

Weights cannot be downloaded here, and a random-weight model costs exactly what a pretrained one
costs, so each model is built from open_clip's own config (real tower sizes, random weights) with
a stand-in tokenizer of the real one's shape (``tools/families.py``) and the tag's preprocessing,
and loaded through ``local-dir:`` as a user's folder would be. Per model:
- export_s: the one-time ONNX export (cached per machine);
- index_images_per_s: `clipsearch index` end to end on generated ~12 MP JPEGs, export cache warm,
  ``--ocr none`` (what `auto` runs); index_first_images_per_s: the model's first index on the
  machine, which also embeds the 78 built-in category prompts once (cached per model after);
- model_images_per_s: the image tower alone in that runtime, batch 32, all threads;
- cold_query_s / cold_query_cached_s: a new `clipsearch search` process on a 100k-item index of
  that model's dimension, a text never seen before / the same text again (median of 5);
- vs_default: index_images_per_s against ViT-B-32-256's in this run.

`python tools/bench_models.py [--images N] [--models a,b]`; prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import benchlib  # noqa: E402

#: name -> (open_clip config, pretrained tag whose preprocessing applies, tokenizer shape, images)
MODELS: dict[str, tuple[str, str, str | None, int]] = {
    "ViT-B-32-256": ("ViT-B-32-256", "datacomp_s34b_b86k", None, 1),
    "ViT-B-32-SigLIP2-256": ("ViT-B-32-SigLIP2-256", "webli", "gemma", 1),
    "multilingual": ("xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k", "xlmr", 1),
    "best": ("ViT-SO400M-16-SigLIP2-384", "webli", "gemma", 8),  # ~20x the cost: an eighth of the photos
}
#: What `make bench` measures: on 2 cores `best` alone (a 1.1B-parameter export, then planning six
#: configurations at 384 px) takes longer than the whole bench's budget; `--models best` runs it.
DEFAULT_MODELS = ("ViT-B-32-256", "ViT-B-32-SigLIP2-256", "multilingual")


def model_folder(work: Path, name: str) -> str:
    """``--model`` value for ``name``: a local-dir: folder built from open_clip's config."""
    import families
    import open_clip

    arch, tag, tok, _ = MODELS[name]
    if tok is None:
        return arch
    folder = work / "models" / name
    if (folder / "open_clip_model.safetensors").is_file():
        return f"local-dir:{folder}"
    cfg = open_clip.get_model_config(arch)
    pre = {k: v for k, v in open_clip.get_pretrained_cfg(arch, tag).items() if k in ("mean", "std", "interpolation",
                                                                                   "resize_mode")}  # fmt: skip
    if tok == "gemma":
        families.gemma_tokenizer(folder)
    else:
        families.xlmr_tokenizer(folder)
        _xlmr_base(folder)
        cfg["text_cfg"].update(hf_model_name=str(folder), hf_tokenizer_name=str(folder), hf_model_pretrained=False)
    families.build_folder(folder, cfg, pre)
    return f"local-dir:{folder}"


def _xlmr_base(folder: Path) -> None:
    """xlm-roberta-base's own sizes (config.json of the hub model), to build its tower offline."""
    from transformers import XLMRobertaConfig

    XLMRobertaConfig(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                     bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5).save_pretrained(folder)  # fmt: skip


def measure(work: Path, name: str, photos: Path, items: int) -> dict[str, Any]:
    from clipsearch.models.onnx_export import ensure_export
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    model = model_folder(work, name)
    ref = resolve_model_ref(model, "none" if not model.startswith("local-dir:") else None)
    started = time.perf_counter()
    ensure_export(ref)
    out: dict[str, Any] = {"model": MODELS[name][0], "export_s": round(time.perf_counter() - started, 1)}
    n = len(list(photos.iterdir()))
    args = ["--model", model] + (["--pretrained", "none"] if not model.startswith("local-dir:") else [])
    for run in ("first", "warm"):  # first: the model's first index here embeds the 78 built-in prompts
        started = time.perf_counter()
        subprocess.run([benchlib.EXE, "index", str(photos), "--home", str(work / f"home-{name}-{run}"), *args,
                        "--ocr", "none", "--json"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        out[f"index_{run}_images_per_s"] = round(n / (time.perf_counter() - started), 2)
    out["index_images_per_s"] = out["index_warm_images_per_s"]
    enc = load_encoder(ref, "cpu")
    size = enc.info.image_size
    x = np.random.default_rng(0).normal(size=(32, 3, size, size)).astype(np.float32)
    out["model_images_per_s"] = round(32 / benchlib.seconds_for(32, 32, enc.encode_images, x), 2)
    home = benchlib.synthetic_index(work, items, ref, f"home-synthetic-{name}")
    out.update(benchlib.cold_query(home))
    out["dim"], out["text_context"] = enc.info.dim, enc.info.context_length
    return out


def run(work: Path, images: int, items: int, names: list[str]) -> dict[str, Any]:
    os.environ["CLIPSEARCH_CACHE"] = str(work / "cache")  # exports measured from nothing, removed after
    base = benchlib.make_photos(work / "photos-all", images)
    result: dict[str, Any] = {}
    for name in names:
        photos = work / f"photos-{name}"
        photos.mkdir()
        for p in base[: max(4, images // MODELS[name][3])]:
            os.link(p, photos / p.name)
        result[name] = measure(work, name, photos, items)
        print(f"models: {name}: {result[name]}", flush=True)
    default = result.get("ViT-B-32-256")
    if default:
        for entry in result.values():
            entry["vs_default"] = round(entry["index_images_per_s"] / default["index_images_per_s"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated: " + ", ".join(MODELS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.images, args.items, args.models.split(","))))


if __name__ == "__main__":
    main()
