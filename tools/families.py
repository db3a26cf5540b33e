"""Model folders of every family, built here with random weights and tokenizers trained on the spot.

Each folder is what open_clip's ``local-dir:`` schema (and a Hugging Face hub snapshot) holds:
``open_clip_config.json`` (``model_cfg`` + ``preprocess_cfg``), ``open_clip_model.safetensors`` and
the tokenizer files. Tokenizers have the shape of the real ones, trained with the ``tokenizers``
library on a few sentences in English, Russian and Chinese:
- **Gemma** (SigLIP2): BPE with byte fallback, spaces as '▁' by a normaliser, ``add_eos_token``;
- **XLM-R**: Unigram with Metaspace, ``<s> $A </s>`` (RobertaProcessing), pad id 1;
- **NLLB**: BPE with Metaspace and FLORES-200 language codes as special tokens.
Text towers: open_clip's own transformer (SigLIP: no causal mask, last-token pooling) or a
Hugging Face one (a tiny ``XLMRobertaConfig`` / ``M2M100Config`` in a folder of its own).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

SENTENCES = [
    "a photo of a cat on a sofa",
    "a technical drawing of a flange with holes",
    "the quick brown fox jumps over the lazy dog",
    "red circle, blue square and a green triangle",
    "фотография кошки на диване",
    "технический чертёж фланца с отверстиями",
    "красный круг и синий квадрат",
    "沙发上的一只猫的照片",
    "带孔法兰的技术图纸",
    "红色的圆和蓝色的正方形",
]
#: Texts the tests tokenise and embed: every script, emoji, and longer than any context.
TEXTS = [
    "a photo of a cat",
    "A Technical DRAWING, of a flange!",
    "фотография кошки",
    "чертёж детали с отверстиями",
    "一只猫的照片",
    "零件图纸",
    "🐱 cat 🚀 rocket",
    ("a very long caption about a red car parked next to a blue house " * 4)[:200],
]
NLLB_CODES = ["eng_Latn", "rus_Cyrl", "zho_Hans", "deu_Latn"]


def _corpus() -> list[str]:
    return SENTENCES * 20


def gemma_tokenizer(folder: Path) -> int:
    """A Gemma-shaped tokenizer (as in timm/ViT-*-SigLIP2-*); returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.train_from_iterator(_corpus(), trainers.BpeTrainer(vocab_size=700, special_tokens=specials))
    # as transformers saved it with add_eos_token=True: the template is in the file too
    tok.post_processor = processors.TemplateProcessing(
        single="$A:0 <eos>:0", pair="$A:0 <eos>:0 $B:1 <eos>:1", special_tokens=[("<eos>", 1)]
    )
    return _save(tok, folder, {
        "tokenizer_class": "GemmaTokenizer", "add_bos_token": False, "add_eos_token": True,
        "pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>",
        "mask_token": "<mask>", "padding_side": "right", "model_max_length": 64,
    })  # fmt: skip


def xlmr_tokenizer(folder: Path) -> int:
    """An XLM-R-shaped tokenizer (SentencePiece Unigram, ``<s> X </s>``, pad 1)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], unk_token="<unk>"
    )
    tok.train_from_iterator(_corpus(), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return _save(tok, folder, {
        "tokenizer_class": "XLMRobertaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "model_max_length": 512,
    })  # fmt: skip


def nllb_tokenizer(folder: Path) -> int:
    """An NLLB-shaped tokenizer: BPE with Metaspace, FLORES-200 codes as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", *NLLB_CODES, "<mask>"]
    tok.train_from_iterator(_corpus(), trainers.BpeTrainer(vocab_size=700, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="eng_Latn $A </s>", pair="eng_Latn $A $B </s>",
        special_tokens=[("eng_Latn", tok.token_to_id("eng_Latn")), ("</s>", 2)],
    )  # fmt: skip
    return _save(tok, folder, {
        "tokenizer_class": "NllbTokenizer", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "src_lang": "eng_Latn", "legacy_behaviour": False, "extra_special_tokens": NLLB_CODES,
        "model_max_length": 1024,
    })  # fmt: skip


def _save(tok: Any, folder: Path, config: dict[str, Any]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return int(tok.get_vocab_size())


VISION = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8}


def siglip_config(vocab: int, context: int = 16) -> dict[str, Any]:
    """SigLIP2's text tower in miniature: no causal mask, last-token pooling, learned logit bias."""
    return {
        "embed_dim": 32,
        "init_logit_bias": -10,
        "custom_text": True,
        "vision_cfg": dict(VISION),
        "text_cfg": {
            "context_length": context, "vocab_size": vocab, "hf_tokenizer_name": "timm/test-siglip2",
            "tokenizer_kwargs": {"clean": "canonicalize"}, "width": 32, "heads": 2, "layers": 1,
            "no_causal_mask": True, "proj_bias": True, "pool_type": "last", "norm_kwargs": {"eps": 1e-6},
            "act_kwargs": {"approximate": "tanh"},
        },
    }  # fmt: skip


def hf_text_config(hf_folder: Path, pooler: str, proj: str | None = None) -> dict[str, Any]:
    """An open_clip config whose text tower is a Hugging Face model defined by ``hf_folder``."""
    text: dict[str, Any] = {
        "hf_model_name": str(hf_folder), "hf_tokenizer_name": str(hf_folder), "hf_pooler_type": pooler,
        "hf_model_pretrained": False, "context_length": 24,
    }  # fmt: skip
    if proj:
        text["hf_proj_type"] = proj
    return {"embed_dim": 32, "vision_cfg": dict(VISION), "text_cfg": text}


def write_xlmr_tower(folder: Path, vocab: int) -> None:
    from transformers import XLMRobertaConfig

    XLMRobertaConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    ).save_pretrained(folder)  # fmt: skip


def build_folder(folder: Path, model_cfg: dict[str, Any], preprocess: dict[str, Any], seed: int = 0) -> Path:
    """Write config and random weights (through open_clip's own factory) into ``folder``."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess}, indent=1), encoding="utf-8"
    )
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{folder}", pretrained_text=False)
    with torch.no_grad():
        if getattr(model, "logit_bias", None) is not None:
            model.logit_bias.fill_(-4.0)  # a trained-looking bias, not the init value
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return folder


def siglip_folder(folder: Path) -> Path:
    vocab = gemma_tokenizer(folder)
    pre = {"resize_mode": "squash", "interpolation": "bicubic", "mean": [0.5] * 3, "std": [0.5] * 3}
    return build_folder(folder, siglip_config(vocab), pre)


def xlmr_folder(folder: Path) -> Path:
    vocab = xlmr_tokenizer(folder)
    write_xlmr_tower(folder, vocab)
    return build_folder(folder, hf_text_config(folder, "mean_pooler"), {"resize_mode": "shortest"})


def write_nllb_tower(folder: Path, vocab: int) -> None:
    from transformers import M2M100Config

    M2M100Config(
        vocab_size=vocab, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
    ).save_pretrained(folder)  # fmt: skip


def nllb_folder(folder: Path) -> Path:
    """nllb-clip-base-siglip in miniature: an NLLB encoder, CLS pooling, a linear projection, a bias."""
    vocab = nllb_tokenizer(folder)
    write_nllb_tower(folder, vocab)
    cfg = hf_text_config(folder, "cls_pooler", proj="linear")
    cfg["init_logit_bias"] = -10
    cfg["custom_text"] = True
    return build_folder(folder, cfg, {"resize_mode": "squash"})


def metaclip2_folder(folder: Path) -> Path:
    """MetaCLIP 2 worldwide in miniature: open_clip's own text transformer over an XLM-V-shaped
    (XLM-R-like Unigram) tokenizer, pooled at the EOS token (id 2), as ViT-H-14-worldwide is."""
    vocab = xlmr_tokenizer(folder)
    text = {"hf_tokenizer_name": "facebook/xlm-v-base", "pool_type": "eos", "eos_id": 2, "context_length": 24,
            "vocab_size": vocab, "width": 32, "heads": 2, "layers": 1}  # fmt: skip
    cfg = {"embed_dim": 32, "vision_cfg": dict(VISION), "text_cfg": text}
    return build_folder(folder, cfg, {"resize_mode": "shortest"})


def open_clip_family(folder: Path, name: str, preprocess: dict[str, Any]) -> Path:
    """open_clip's own config of ``name`` (its real image tower, from timm) with a one-layer text
    tower: the image side is what the family needs exported right, the text side costs nothing."""
    import open_clip

    cfg = open_clip.get_model_config(name)
    cfg["text_cfg"].update(width=64, heads=2, layers=1)
    return build_folder(folder, cfg, preprocess)


def hub_cache(cache: Path, repo: str, source: Path) -> Path:
    """Lay ``source``'s files out as huggingface_hub's cache holds a downloaded ``repo``."""
    base = cache / f"models--{repo.replace('/', '--')}"
    revision = "0" * 40
    snapshot = base / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copy2(path, snapshot / path.name)
    (base / "refs").mkdir(exist_ok=True)
    (base / "refs" / "main").write_text(revision)
    return snapshot
