#!/usr/bin/env python3
"""Train ``tiny-shapes``: a small open_clip CLIP that knows 6 colours and 5 filled shapes.

Why: model weights cannot be downloaded on our machines, so without this every test could only
check plumbing. This model gives tests and the offline demo real (narrow) meaning: "a red circle"
finds red circles. It is an ordinary open_clip model (custom config in
``clipsearch/models/model_configs/tiny-shapes.json``, open_clip's own tokenizer) loaded through the same
code as any other.

Training images come from the PIL renderer below; the held-out evaluation uses
``clipsearch.models.demo_shapes``, written separately with numpy, so the reported accuracy is about
generalising to shapes drawn by other code.

Loss: CLIP's symmetric cross-entropy, but with *soft* targets: a caption is a positive for every
image in the batch it truly describes ("something red" matches all red shapes), so in-batch
duplicates are not pushed apart.

Deterministic (seeded), CPU only. Run: ``python tools/train_tiny_shapes.py`` (about 13 minutes on
2 cores); writes ``clipsearch/models/weights/tiny-shapes.safetensors`` and prints held-out metrics.
"""

from __future__ import annotations

import argparse
import colorsys
import io
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]

from clipsearch.models.demo_shapes import COLOURS, SHAPES  # noqa: E402

CONFIG = ROOT / "clipsearch" / "models" / "model_configs" / "tiny-shapes.json"
WEIGHTS = ROOT / "clipsearch" / "models" / "weights" / "tiny-shapes.safetensors"

# Hue (degrees) per colour name for the training renderer; jittered per image.
HUES = {"red": 0, "orange": 28, "yellow": 55, "green": 125, "blue": 222, "purple": 280}

FULL_TEMPLATES = [
    "a {c} {s}",
    "a photo of a {c} {s}",
    "a drawing of a {c} {s}",
    "a picture of a {c} {s}",
    "an image of a {c} {s}",
    "a {s} that is {c}",
    "a {c} {s} on a light background",
    "a small {c} {s}",
    "a big {c} {s}",
]
SHAPE_TEMPLATES = ["a {s}", "a photo of a {s}", "a drawing of a {s}", "a {s} shape", "{s}", "a picture of a {s}"]
COLOUR_TEMPLATES = ["a {c} shape", "something {c}", "a {c} object", "{c}", "a photo of something {c}", "{c} colour"]


# ----------------------------------------------------------------------------- training renderer
def _polygon(shape: str, cx: float, cy: float, r: float, angle: float, rng: random.Random) -> list[tuple]:
    if shape == "square":
        pts = [(math.cos(a), math.sin(a)) for a in (math.pi / 4 + k * math.pi / 2 for k in range(4))]
    elif shape == "triangle":
        pts = [(math.cos(a), math.sin(a)) for a in (-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]
    elif shape == "star":
        inner = rng.uniform(0.38, 0.5)
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rad = 1.0 if k % 2 == 0 else inner
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif shape == "cross":
        w = rng.uniform(0.28, 0.4)
        pts = [
            (-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w),
            (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w),
        ]  # fmt: skip
    else:
        raise ValueError(shape)
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def _fill(colour: str, rng: random.Random) -> tuple[int, int, int]:
    h = (HUES[colour] + rng.uniform(-9, 9)) % 360 / 360
    s = rng.uniform(0.7, 1.0)
    v = rng.uniform(0.85, 1.0) if colour == "yellow" else rng.uniform(0.6, 1.0)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def _background(w: int, h: int, rng: random.Random) -> Image.Image:
    kind = rng.choice(["white", "light", "noise", "texture"])
    if kind == "white":
        return Image.new("RGB", (w, h), (255, 255, 255))
    base = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.18), rng.uniform(0.88, 1.0))) * 255
    arr = np.ones((h, w, 3)) * base
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    if kind == "noise":
        arr += nrng.normal(0, rng.uniform(4, 14), size=(h, w, 1))
    elif kind == "texture":
        period = rng.uniform(4, 16)
        yy, xx = np.mgrid[0:h, 0:w]
        arr += 10 * np.sin((xx * math.cos(rng.random() * 6) + yy * math.sin(rng.random() * 6)) / period)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def render(colour: str, shape: str, rng: random.Random) -> Image.Image:
    long_side = rng.randint(56, 200)
    aspect = rng.uniform(0.6, 1.6)
    if aspect >= 1:
        w, h = long_side, max(24, int(long_side / aspect))
    else:
        w, h = max(24, int(long_side * aspect)), long_side
    scale = 2  # supersample for anti-aliased edges
    img = _background(w, h, rng).resize((w * scale, h * scale))
    draw = ImageDraw.Draw(img)
    diameter = rng.uniform(0.2, 0.7) * min(w, h) * scale
    r = diameter / 2
    cx = rng.uniform(r, w * scale - r)
    cy = rng.uniform(r, h * scale - r)
    fill = _fill(colour, rng)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi), rng), fill=fill)
    img = img.resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(30, 95))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def caption(colour: str, shape: str, rng: random.Random) -> tuple[str, int, int]:
    """A caption and what it constrains: (text, colour index or -1, shape index or -1)."""
    u = rng.random()
    ci, si = COLOURS.index(colour), SHAPES.index(shape)
    if u < 0.6:
        return rng.choice(FULL_TEMPLATES).format(c=colour, s=shape), ci, si
    if u < 0.8:
        return rng.choice(SHAPE_TEMPLATES).format(s=shape), -1, si
    return rng.choice(COLOUR_TEMPLATES).format(c=colour), ci, -1


# ----------------------------------------------------------------------------- training
def build_dataset(n: int, seed: int, transform) -> tuple[torch.Tensor, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    images = []
    labels = np.zeros((n, 2), dtype=np.int64)
    for i in range(n):
        c, s = rng.randrange(len(COLOURS)), rng.randrange(len(SHAPES))
        images.append(transform(render(COLOURS[c], SHAPES[s], rng)))
        labels[i] = (c, s)
    return torch.stack(images), labels


def train(args: argparse.Namespace) -> None:
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    from clipsearch.models.registry import BUILTIN_MODELS

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    open_clip.add_model_config(CONFIG)
    model = open_clip.create_model("tiny-shapes")
    cfg = PreprocessCfg(size=model.visual.image_size, **BUILTIN_MODELS["tiny-shapes"].preprocess)
    transform = image_transform_v2(cfg, is_train=False)
    tokenizer = open_clip.get_tokenizer("tiny-shapes")

    t0 = time.time()
    images, labels = build_dataset(args.images, args.seed, transform)
    print(f"rendered {len(images)} training images in {time.time() - t0:.0f}s", flush=True)

    # Caption bank: every caption the templates can make, with the attributes it constrains.
    bank: list[tuple[str, int, int]] = []
    for ci, c in enumerate(COLOURS):
        for si, s in enumerate(SHAPES):
            bank += [(t.format(c=c, s=s), ci, si) for t in FULL_TEMPLATES]
        bank += [(t.format(c=c), ci, -1) for t in COLOUR_TEMPLATES]
    for si, s in enumerate(SHAPES):
        bank += [(t.format(s=s), -1, si) for t in SHAPE_TEMPLATES]
    bank_tokens = tokenizer([b[0] for b in bank])
    bank_c = torch.tensor([b[1] for b in bank])
    bank_s = torch.tensor([b[2] for b in bank])
    by_kind = {
        "full": [i for i, b in enumerate(bank) if b[1] >= 0 and b[2] >= 0],
        "shape": [i for i, b in enumerate(bank) if b[1] < 0],
        "colour": [i for i, b in enumerate(bank) if b[2] < 0],
    }
    index_of: dict[tuple[str, int, int], list[int]] = {}
    for i, (_, c, s) in enumerate(bank):
        kind = "full" if c >= 0 and s >= 0 else ("shape" if c < 0 else "colour")
        index_of.setdefault((kind, c if c >= 0 else -1, s if s >= 0 else -1), []).append(i)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    rng = random.Random(args.seed + 1)
    lab = torch.from_numpy(labels)
    model.train()
    t0 = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(images), (args.batch,), generator=gen)
        batch = images[idx]
        # label-preserving augmentations for every shape: mirror and quarter turns
        if rng.random() < 0.5:
            batch = batch.flip(-1)
        batch = torch.rot90(batch, rng.randrange(4), dims=(-2, -1))
        bc, bs = lab[idx, 0], lab[idx, 1]
        cap_idx = []
        for c, s in zip(bc.tolist(), bs.tolist(), strict=True):
            u = rng.random()
            key = ("full", c, s) if u < 0.6 else (("shape", -1, s) if u < 0.8 else ("colour", c, -1))
            cap_idx.append(rng.choice(index_of[key]))
        cap = torch.tensor(cap_idx)
        img_f = F.normalize(model.encode_image(batch), dim=-1)
        txt_f = F.normalize(model.encode_text(bank_tokens[cap]), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * img_f @ txt_f.T
        cc, cs = bank_c[cap], bank_s[cap]
        match = ((cc[None, :] < 0) | (cc[None, :] == bc[:, None])) & ((cs[None, :] < 0) | (cs[None, :] == bs[:, None]))
        target = match.float()
        loss_i = -(target / target.sum(1, keepdim=True) * F.log_softmax(logits, 1)).sum(1).mean()
        loss_t = -(target.T / target.T.sum(1, keepdim=True) * F.log_softmax(logits.T, 1)).sum(1).mean()
        loss = (loss_i + loss_t) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  lr {lr:.2e}  {time.time() - t0:.0f}s", flush=True)
    del by_kind
    model.eval()
    save(model, bank_tokens, Path(args.out))


def save(model: torch.nn.Module, used_tokens: torch.Tensor, out: Path = WEIGHTS) -> None:
    """fp16 safetensors; token embeddings of words never trained are zeroed (meaningless, and small in git)."""
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    used = torch.unique(used_tokens)
    keep = torch.zeros(state["token_embedding.weight"].shape[0], dtype=torch.bool)
    keep[used] = True
    state["token_embedding.weight"][~keep] = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out), metadata={"model": "tiny-shapes", "vocabulary": json.dumps([COLOURS, SHAPES])})
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2200)
    parser.add_argument("--batch", type=int, default=192)
    parser.add_argument("--images", type=int, default=36000)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(WEIGHTS), help="where to write the weights")
    args = parser.parse_args()
    started = time.time()
    train(args)
    print(f"trained in {time.time() - started:.0f}s")
    from clipsearch.models.demo_shapes import evaluate
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.torch_runtime import TorchEncoder

    encoder = TorchEncoder(resolve_model_ref("tiny-shapes"), "cpu")
    if Path(args.out) != WEIGHTS:  # evaluate what was just written, not the packaged weights
        from safetensors.torch import load_file

        encoder.model.load_state_dict({k: v.float() for k, v in load_file(args.out).items()})
    print(json.dumps(evaluate(encoder), indent=2))


if __name__ == "__main__":
    main()
