"""Turning images and texts into L2-normalised vectors with open_clip.

open_clip is the single source of model definitions, weights loading and preprocessing. The
:class:`Encoder` protocol is what the rest of the library needs, so tests and faster runtimes can
stand in for :class:`TorchEncoder` without touching the indexer or the query layer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

from .config import ENV_RUNTIME, PRECISIONS, RUNTIMES, export_precision
from .errors import ExportError, ModelError, ModelUnavailableError, UsageError
from .models import BUILTIN_MODELS, ModelInfo, ModelRef, package_file
from .preprocess import Preprocessor

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What the indexer and the query layer need from a model."""

    info: ModelInfo

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        """PIL image (RGB) -> float32 array (3, H, W) exactly as the model expects.

        ``letterbox``: fit the longest side and pad with white instead of the model's own resize
        (documents: no part of a page may be cropped away)."""

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, dim) float32, rows of unit length."""

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """N strings -> (N, dim) float32, rows of unit length."""

    @property
    def logit_scale(self) -> float:
        """The model's learned temperature (exp'd), for softmax over prompts."""


def pick_device(requested: str | None = None) -> str:
    """``auto`` (or None) picks cuda, then mps, then cpu; anything else is passed to torch as is."""
    import torch

    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero) so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@contextlib.contextmanager
def _hf_offline(offline: bool) -> Iterator[None]:
    """Make huggingface_hub use only its cache (no network) for the duration."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - open_clip depends on it
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = offline or before
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP check, so an offline machine fails in seconds instead of minutes of retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _weights_source(ref: ModelRef) -> str:
    import open_clip

    if ref.kind == "hf":
        return ref.name
    if ref.pretrained.startswith("hf-hub:"):
        return ref.pretrained
    cfg = open_clip.get_pretrained_cfg(ref.name, ref.pretrained) or {}
    hub = cfg.get("hf_hub", "").rstrip("/")
    return f"hf-hub:{hub}" if hub else (cfg.get("url") or ref.pretrained)


def _unavailable(ref: ModelRef, err: BaseException | None = None) -> ModelUnavailableError:
    source = _weights_source(ref)
    why = "not in the local cache and the hub is unreachable" if err is None else str(err).splitlines()[0][:160]
    return ModelUnavailableError(
        f"cannot fetch weights {ref.pretrained or ref.name!r} for {ref.name} from {source} "
        f"({why}). On a connected machine download "
        f"open_clip_pytorch_model.bin from {source} and pass --pretrained /path/to/that/file, "
        "or use --model tiny-shapes for the built-in toy model"
    )


def _create_open_clip(ref: ModelRef, device: str) -> Any:
    """Build the model through open_clip's own factory, weights loaded (or random for 'none')."""
    import open_clip

    kwargs: dict[str, Any] = {"device": device}
    name, pretrained = ref.name, ref.pretrained
    if ref.kind == "builtin":
        builtin = BUILTIN_MODELS[ref.name]
        open_clip.add_model_config(package_file("model_configs", builtin.config_file))
        pretrained = None if ref.is_random else str(package_file("weights", builtin.weights_file))
        kwargs["force_preprocess_cfg"] = dict(builtin.preprocess)
    elif ref.kind == "config":
        open_clip.add_model_config(ref.name)
        name = os.path.splitext(os.path.basename(ref.name))[0]
    if ref.is_random:
        pretrained = None
    elif pretrained and pretrained.startswith("hf-hub:"):
        pretrained = _download_hf_weights(ref, pretrained[len("hf-hub:") :])

    needs_hub = ref.kind == "hf" or (
        ref.kind == "arch" and not ref.is_random and open_clip.get_pretrained_cfg(name, pretrained or "")
    )
    with warnings.catch_warnings(), _quiet_logs():
        warnings.simplefilter("ignore")
        if not needs_hub:
            try:
                return open_clip.create_model(name, pretrained=pretrained, **kwargs)
            except (RuntimeError, ValueError, KeyError, OSError) as err:
                raise ModelError(f"cannot build model {ref.label}: {str(err).splitlines()[0][:300]}") from err
        try:
            with _hf_offline(True):
                return open_clip.create_model(name, pretrained=pretrained, **kwargs)
        except Exception as cached_err:
            if not hub_reachable():
                raise _unavailable(ref) from cached_err
        try:
            return open_clip.create_model(name, pretrained=pretrained, **kwargs)
        except Exception as err:
            raise _unavailable(ref, err) from err


def _download_hf_weights(ref: ModelRef, repo: str) -> str:
    from open_clip.pretrained import download_pretrained_from_hf

    try:
        with _hf_offline(True):
            return download_pretrained_from_hf(repo)
    except Exception as cached_err:
        if not hub_reachable():
            raise _unavailable(ref) from cached_err
    try:
        return download_pretrained_from_hf(repo)
    except Exception as err:
        raise _unavailable(ref, err) from err


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """open_clip and huggingface_hub log failures and "initialized randomly" through the root logger.

    We turn every failure into one exception with advice, so their log lines are only noise here.
    """
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def open_clip_name(ref: ModelRef) -> str:
    """The name open_clip knows the model by (a config file registers under its file stem)."""
    return os.path.splitext(os.path.basename(ref.name))[0] if ref.kind == "config" else ref.name


class TorchEncoder:
    """open_clip model run by PyTorch (fp16 autocast on CUDA): the GPU path, and the reference."""

    def __init__(self, ref: ModelRef, device: str | None = None) -> None:
        import open_clip
        import torch
        from open_clip.transform import PreprocessCfg

        self.device = pick_device(device)
        self._torch = torch
        self.model = _create_open_clip(ref, self.device).eval()
        self.tokenizer = open_clip.get_tokenizer(open_clip_name(ref))
        pp = dict(getattr(self.model.visual, "preprocess_cfg", {}) or {})
        cfg = PreprocessCfg(**{k: v for k, v in pp.items() if k in PreprocessCfg.__annotations__})
        size = cfg.size if isinstance(cfg.size, int) else max(cfg.size)
        with torch.no_grad():
            dim = int(self._encode_text_tensor(self.tokenizer(["a"])).shape[-1])
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
            context_length=int(getattr(self.tokenizer, "context_length", 77)),
            toy=bool(builtin and builtin.toy) or ref.is_random,
            description=builtin.description if builtin else ("random weights" if ref.is_random else ""),
            logit_scale=float(self.model.logit_scale.exp().item()),
            fill_color=int(cfg.fill_color if isinstance(cfg.fill_color, int) else 0),
        )
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

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self._encode_text_tensor(self.tokenizer(list(texts)))
        return normalise(out.float().cpu().numpy())


def gpu_possible() -> bool:
    """Whether asking PyTorch about GPUs is worth its import (~3 s): a CUDA driver or a Mac."""
    return os.path.exists("/proc/driver/nvidia/version") or sys.platform == "darwin"


def resolve_device(requested: str | None = None) -> str:
    """The device ``auto`` means here, importing torch only where a GPU could exist."""
    if requested and requested != "auto":
        return requested
    return pick_device(None) if gpu_possible() else "cpu"


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
        return TorchEncoder(ref, device=dev)
    if dev != "cpu":
        raise UsageError(f"the {runtime} runtime runs on the CPU only; use --runtime torch for device {dev!r}")
    if runtime == "onnx" and precision == "bf16":
        raise UsageError("--precision bf16 runs in OpenVINO: pip install openvino, and use --runtime auto or openvino")
    if runtime == "openvino" and not _installed("openvino"):
        raise UsageError("--runtime openvino needs OpenVINO: pip install openvino")
    from .onnx_export import ensure_export
    from .onnx_runtime import shared_encoder

    try:
        return shared_encoder(ensure_export(ref, export_precision(precision)), precision, runtime)
    except ExportError as err:
        if asked != "auto" or precision != "fp32":
            raise
        log.warning("%s; running it in PyTorch instead", err)
        return TorchEncoder(ref, device=dev)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
