"""Building an open_clip model with its weights: built-in tags, ``hf-hub:`` names, config files.

open_clip is the single source of model definitions and weights loading. Offline, a missing
weights file fails in seconds with one line saying what to pass instead, never minutes of retries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import ModelError, ModelUnavailableError
from .registry import BUILTIN_MODELS, ModelRef, package_file


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
    folder = (
        f"`hf download {source[len('hf-hub:') :]}` and pass --model local-dir:THAT_FOLDER (weights and tokenizer), or "
        if source.startswith("hf-hub:")
        else ""
    )
    return ModelUnavailableError(
        f"cannot fetch weights {ref.pretrained or ref.name!r} for {ref.name} from {source} "
        f"({why}). On a connected machine run {folder}download "
        f"open_clip_pytorch_model.bin from {source} and pass --pretrained /path/to/that/file, "
        "or use --model tiny-shapes for the built-in toy model"
    )


def create_open_clip(ref: ModelRef, device: str) -> Any:
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
            except ImportError as err:  # a tower from a package we do not depend on (timm / transformers extras)
                raise ModelError(f"cannot build model {ref.label}: {err}; pip install {err.name or 'it'}") from err
            except (RuntimeError, ValueError, KeyError, OSError, AssertionError) as err:
                raise ModelError(f"cannot build model {ref.label}: {_first_line(err)}") from err
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


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:300]


def model_config(ref: ModelRef) -> dict[str, Any]:
    """open_clip's ``model_cfg`` for ``ref``, read as data (no torch): what the towers and the
    tokenizer are. Hub configs come from the local cache first."""
    import json

    from .registry import open_clip_config_path

    if ref.kind == "local":
        data = json.loads((ref.folder / "open_clip_config.json").read_text(encoding="utf-8"))
        return dict(data.get("model_cfg", {}))
    if ref.kind == "hf":
        path = hub_file(ref.name[len("hf-hub:") :], "open_clip_config.json", what=f"the config of {ref.name}")
        return dict(json.loads(Path(path).read_text(encoding="utf-8")).get("model_cfg", {}))
    if ref.kind == "builtin":
        path = package_file("model_configs", BUILTIN_MODELS[ref.name].config_file)
    elif ref.kind == "config":
        path = Path(ref.name)
    else:
        path = open_clip_config_path(ref.name)
        if path is None:
            import open_clip

            return dict(open_clip.get_model_config(ref.name) or {})
    try:
        return dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as err:
        raise ModelError(f"cannot read the open_clip config of {ref.label}: {_first_line(err)}") from err


def hub_file(repo: str, filename: str, what: str, optional: bool = False) -> str | None:
    """A file of a Hugging Face hub repository: from the local cache, else downloaded when the hub
    answers; offline and not cached, one line saying what to pass instead. ``optional``: None
    when the repository has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    with _quiet_logs():
        try:
            with _hf_offline(True):
                return hf_hub_download(repo, filename)
        except LocalEntryNotFoundError as cached_err:  # not in the cache (or the repository is not)
            if not hub_reachable():
                if optional:
                    return None
                raise ModelUnavailableError(
                    f"cannot fetch {what} ({filename} of hf-hub:{repo}): not in the local Hugging Face cache and "
                    f"the hub is unreachable. On a connected machine run `hf download {repo}`, or pass --model "
                    "local-dir:FOLDER with open_clip_config.json, the weights and the tokenizer files"
                ) from cached_err
        except EntryNotFoundError:  # the cached repository has no such file
            if optional:
                return None
        except Exception as err:
            raise ModelUnavailableError(f"cannot read {what} from hf-hub:{repo}: {_first_line(err)}") from err
        try:
            return hf_hub_download(repo, filename)
        except EntryNotFoundError:
            if optional:
                return None
            raise ModelUnavailableError(f"hf-hub:{repo} has no {filename} ({what})") from None
        except Exception as err:
            raise ModelUnavailableError(f"cannot fetch {what} from hf-hub:{repo}: {_first_line(err)}") from err


def tokenizer_folder(ref: ModelRef, hf_name: str) -> Path:
    """Where the Hugging Face tokenizer files of ``ref`` are: its own folder for ``local-dir:``
    (as open_clip does), a folder ``hf_tokenizer_name`` names, else that hub repository's files."""
    from .hf_tokenizer import TOKENIZER_FILES

    if ref.kind == "local":
        return ref.folder
    if Path(hf_name).expanduser().is_dir():
        return Path(hf_name).expanduser()
    what = f"the tokenizer of {ref.label}"
    first = hub_file(hf_name, TOKENIZER_FILES[0], what)
    for name in TOKENIZER_FILES[1:]:
        hub_file(hf_name, name, what, optional=True)
    return Path(str(first)).parent


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


def gpu_possible() -> bool:
    """Whether asking PyTorch about GPUs is worth its import (seconds, which `make bench`'s
    cold_query_s never pays): a CUDA driver or a Mac."""
    return os.path.exists("/proc/driver/nvidia/version") or sys.platform == "darwin"


def resolve_device(requested: str | None = None) -> str:
    """The device ``auto`` means here, importing torch only where a GPU could exist."""
    if requested and requested != "auto":
        return requested
    return pick_device(None) if gpu_possible() else "cpu"
