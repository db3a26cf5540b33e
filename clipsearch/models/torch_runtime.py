"""The open_clip model run by PyTorch (fp16 autocast on CUDA): the GPU path, and the reference
every exported runtime is checked against."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .encoder import Abilities, normalise
from .loading import create_open_clip, pick_device
from .preprocess import Preprocessor
from .registry import BUILTIN_MODELS, ModelInfo, ModelRef
from .textcache import TextCache
from .tokenizer import text_tokenizer


class TorchEncoder:
    """open_clip model run by PyTorch (fp16 autocast on CUDA): the GPU path, and the reference."""

    abilities = Abilities(languages=True)

    def __init__(self, ref: ModelRef, device: str | None = None) -> None:
        import torch
        from open_clip.transform import PreprocessCfg

        self.device = pick_device(device)
        self._torch = torch
        self.model = _reparameterised(create_open_clip(ref, self.device).eval())
        self.tokenizer = text_tokenizer(ref)
        pp = dict(getattr(self.model.visual, "preprocess_cfg", {}) or {})
        cfg = PreprocessCfg(**{k: v for k, v in pp.items() if k in PreprocessCfg.__annotations__})
        size = cfg.size if isinstance(cfg.size, int) else max(cfg.size)
        with torch.no_grad():
            dim = int(self._encode_text_tensor(torch.from_numpy(self.tokenizer(["a"]))).shape[-1])
        builtin = BUILTIN_MODELS.get(ref.name) if ref.kind == "builtin" else None
        self.info = ModelInfo(
            name=ref.name,
            pretrained=ref.pretrained,
            kind=ref.kind,
            dim=dim,
            image_size=int(size),
            mean=tuple(float(x) for x in cfg.mean),
            std=tuple(float(x) for x in cfg.std),
            interpolation=str(cfg.interpolation),
            resize_mode=str(cfg.resize_mode),
            context_length=int(self.tokenizer.context_length),
            toy=bool(builtin and builtin.toy) or ref.is_random,
            description=builtin.description if builtin else ("random weights" if ref.is_random else ""),
            logit_scale=float(self.model.logit_scale.exp().item()),
            fill_color=int(cfg.fill_color if isinstance(cfg.fill_color, int) else 0),
            logit_bias=_logit_bias(self.model),
        )
        self.text_cache = TextCache(None, self.info.dim)  # no export folder: memory only
        self._image_pre = Preprocessor.for_model(self.info)
        self._document_pre = Preprocessor.for_model(self.info, letterbox=True)

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return contextlib.nullcontext()

    def _encode_text_tensor(self, tokens: Any) -> Any:
        with self._autocast():
            return self.model.encode_text(tokens.to(self.device))

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        return (self._document_pre if letterbox else self._image_pre)(image)

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode(), self._autocast():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
            out = self.model.encode_image(tensor)
        return normalise(out.float().cpu().numpy())

    def tokenize(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        from .language import tokenize_texts

        return tokenize_texts(self.tokenizer, list(texts), language)

    def encode_texts(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        """Unit vectors for ``texts``, the last :data:`~.textcache.RECENT` kept in memory."""
        return self.text_cache.vectors(texts, language, lambda missing: self._embed_texts(missing, language))

    def _embed_texts(self, texts: list[str], language: str | None) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self._encode_text_tensor(torch.from_numpy(self.tokenize(texts, language)))
        return normalise(out.float().cpu().numpy())


def _logit_bias(model: Any) -> float | None:
    bias = getattr(model, "logit_bias", None)
    return None if bias is None else float(bias.detach().float().reshape(-1)[0].item())


def _reparameterised(model: Any) -> Any:
    """MobileCLIP(2)'s FastViT/MCi blocks train with parallel branches that fold into one
    convolution for inference (``timm.utils.model.reparameterize_model``): the same function,
    faster, and what the ONNX export must see. Other models are returned as they are."""
    if not any(hasattr(m, "reparameterize") for m in model.modules()):
        return model
    from timm.utils.model import reparameterize_model

    return reparameterize_model(model, inplace=True).eval()
