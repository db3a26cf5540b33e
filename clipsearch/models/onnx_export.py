"""Export an open_clip model's two towers to ONNX once, and keep them in a per-user cache.

open_clip stays the one source of the model: the towers are traced from the very module
:class:`~clipsearch.embedding.TorchEncoder` builds (same weights, same ``encode_image`` /
``encode_text(normalize=True)``). What the exported files were made from is written next to them
(``export.json``: the :class:`ModelInfo`, the tokenizer, versions), so a cache entry is never used
for another model. Weights are stored as external data, which ONNX Runtime memory-maps: a text
query opens the 250 MB text tower several times faster (`make bench`: cold_query_s).

``int8`` files are made from the fp32 ones by dynamic quantisation (``quantise.py``: int8 weights,
activations quantised at run time); ``tests/test_runtime.py``, ``tests/test_openvino.py`` and
``make bench`` measure how close they stay to fp32.

Importing this module is cheap; exporting imports torch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..config import setting
from ..errors import ExportError, ModelError
from .quantise import OPENVINO_VISUAL
from .registry import ModelInfo, ModelRef
from .text_table import ROWS_INPUT

#: Bump when the exported graphs change meaning, so old cache entries are not reused.
EXPORT_VERSION = 2  # 2: adds text_short
OPSET = 17
TOWERS = ("visual", "text")
META = "export.json"
#: Positions of the short text graph: prompts and queries of a few words fit (see ``_text_cuts``).
SHORT_TEXT = 16
#: Precisions with files of their own (bf16 compiles the fp32 files, see ``config.export_precision``).
EXPORTED = ("fp32", "int8")

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$CLIPSEARCH_CACHE`` or the platform's user cache folder."""
    env = setting("cache")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("clipsearch", appauthor=False)


_MODEL_FILE_SUFFIXES = {".json", ".safetensors", ".bin", ".pt", ".pth"}


def _file_identity(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    return [path, st.st_size, st.st_mtime_ns]


def model_key(ref: ModelRef) -> str:
    """Stable name of a model's cache entry: what it is and, for files, which bytes (size + mtime)."""
    parts: list[Any] = [EXPORT_VERSION, ref.kind, ref.name, ref.pretrained]
    if ref.kind == "config":
        parts.append(_file_identity(ref.name))
    if ref.pretrained and os.path.isabs(ref.pretrained):
        parts.append(_file_identity(ref.pretrained))
    if ref.kind == "local":  # the folder's config and weights files, so an edited folder exports again
        files = sorted(ref.folder.glob("*"))
        parts.extend(_file_identity(str(p)) for p in files if p.suffix in _MODEL_FILE_SUFFIXES)
    if ref.kind == "builtin":
        from .registry import BUILTIN_MODELS, package_file

        parts.append(_file_identity(str(package_file("weights", BUILTIN_MODELS[ref.name].weights_file))))
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(ref.name))[:40]
    return f"{stem}-{digest}"


def export_dir(ref: ModelRef) -> Path:
    return cache_root() / "onnx" / model_key(ref)


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("export_version") != EXPORT_VERSION:
        return None
    return meta


def has_export(folder: Path, precision: str) -> bool:
    meta = read_meta(folder)
    if not meta or precision not in meta.get("files", {}):
        return False
    files = meta["files"][precision]
    if precision == "int8" and OPENVINO_VISUAL not in files:
        return False  # quantised before OpenVINO ran int8: quantise again (the fp32 files stay)
    table = [meta["text_table"]] if meta.get("text_table") else []
    return all((folder / name).is_file() for name in [*files.values(), *table])


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One exporting process per cache entry; the others wait and then find the files made."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_export(ref: ModelRef, precision: str = "fp32", torch_model: Any = None) -> Path:
    """The cache folder holding ``ref``'s towers at ``precision``, exporting them first if needed.

    ``torch_model``: an already loaded :class:`TorchEncoder` for ``ref`` (saves loading it twice).
    """
    if precision not in EXPORTED:
        raise ModelError(f"no {precision!r} export: use one of {', '.join(EXPORTED)}")
    folder = export_dir(ref)
    if has_export(folder, precision):
        return folder
    with _exclusive(folder):
        if has_export(folder, precision):
            return folder
        if not has_export(folder, "fp32"):
            _export_fp32(ref, folder, torch_model)
            _prune_stale(folder)
        if precision == "int8":
            _quantise(folder)
    return folder


def _prune_stale(folder: Path) -> None:
    """Delete the cache entries this export replaces: the same model (kind, name, tag) exported by
    an older clipsearch or from an earlier version of its weights file. Each holds a full copy of
    the weights (~600 MB for ViT-B-32-256) that nothing will read again; newer exports are kept."""
    mine = (read_meta(folder) or {}).get("model", {})
    same = ("kind", "name", "pretrained")
    for other in folder.parent.iterdir():
        if other == folder or not other.is_dir():
            continue
        try:
            meta = json.loads((other / META).read_text(encoding="utf-8"))
            model, version = meta["model"], int(meta["export_version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if version <= EXPORT_VERSION and all(model.get(k) == mine.get(k) for k in same):
            shutil.rmtree(other, ignore_errors=True)
            log.info("removed the stale export %s", other)


def _export_fp32(ref: ModelRef, folder: Path, torch_model: Any) -> None:
    import torch

    from .text_table import given_rows, save_table, token_table
    from .torch_runtime import TorchEncoder

    encoder = torch_model if torch_model is not None else TorchEncoder(ref, device="cpu")
    if next(encoder.model.parameters()).device.type != "cpu":
        encoder = TorchEncoder(ref, device="cpu")
    model, info = encoder.model, encoder.info
    tokens = torch.from_numpy(encoder.tokenize(["a photo", "a drawing of a part"]))
    # the torch-free tokenizer's recipe, its files copied in: queries never need open_clip or the hub
    spec = dict(encoder.tokenizer.spec) if encoder.tokenizer.spec else None
    table = token_table(model)  # a large vocabulary's rows leave the text graph (text_table.py)
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
        with given_rows(table[0], table[1]) if table else contextlib.nullcontext() as given:
            examples = _examples(model, info, tokens, spec, given, table[2] if table else None)
            for tower, (module, inputs, names) in examples.items():
                files[tower] = _export_tower(ref, tower, module, inputs, names, Path(tmp), files.get("text"))
        table_file = save_table(table[2], Path(tmp)) if table else None
        if spec and spec["kind"] == "hf":
            shutil.copy2(encoder.tokenizer.folder / spec["file"], Path(tmp) / spec["file"])
        for path in Path(tmp).iterdir():
            os.replace(path, folder / path.name)
    import onnxruntime

    meta = {
        "export_version": EXPORT_VERSION,
        "model": info.to_dict(),
        "tokenizer": spec,
        "text_short_length": SHORT_TEXT if "text_short" in files else 0,
        "text_table": table_file,
        "files": {"fp32": files},
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    write_json_atomic(folder / META, meta)


def _examples(
    model: Any, info: ModelInfo, tokens: Any, spec: dict[str, Any] | None, given: Any, table: Any
) -> dict[str, tuple[Any, tuple[Any, ...], tuple[str, ...]]]:
    """tower -> (module to trace, example inputs, input names). With ``given`` (the token table
    swapped out), the text graph takes the looked-up rows as its second input."""
    import torch

    class Tower(torch.nn.Module):
        """One tower of ``model`` as a module for the exporter to trace (``model`` registered in it)."""

        def __init__(self, encode: Callable[..., Any]) -> None:
            super().__init__()
            self.m = model
            self.encode = encode

        def forward(self, *x: Any) -> Any:
            return self.encode(self.m, *x)

    def short_text(m: Any, tokens: Any) -> Any:
        with _first_positions(m, SHORT_TEXT):
            return m.encode_text(tokens, normalize=True)

    def from_rows(m: Any, tokens: Any, rows: Any) -> Any:
        given.value = rows
        return m.encode_text(tokens, normalize=True)

    size = info.image_size
    pixels = torch.zeros(2, 3, size, size)
    examples: dict[str, tuple[Any, tuple[Any, ...], tuple[str, ...]]] = {
        "visual": (Tower(lambda m, x: m.encode_image(x, normalize=True)), (pixels,), ("pixels",)),
    }
    if given is not None:
        rows = table.weight.detach()[tokens]
        examples["text"] = (Tower(from_rows), (tokens, rows), ("tokens", ROWS_INPUT))
    else:
        examples["text"] = (Tower(lambda m, t: m.encode_text(t, normalize=True)), (tokens,), ("tokens",))
    if spec and spec["kind"] == "clip-bpe" and given is None and info.context_length > SHORT_TEXT and _text_cuts(model):
        examples["text_short"] = (Tower(short_text), (tokens[:, :SHORT_TEXT],), ("tokens",))
    return examples


def _export_tower(
    ref: ModelRef,
    tower: str,
    module: Any,
    inputs: tuple[Any, ...],
    names: tuple[str, ...],
    tmp: Path,
    text_file: str | None,
) -> str:
    """Trace one tower to ``tmp/<tower>.onnx`` with its weights beside it; returns the file name.

    The short text graph points into the full text graph's weights file (``text_file``).
    """
    import onnx
    import torch

    raw = tmp / f"{tower}.raw.onnx"
    try:
        # Not under no_grad: that switches nn.MultiheadAttention to a fused kernel ONNX lacks.
        with warnings.catch_warnings(), _stdout_to_stderr():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(), inputs, str(raw), input_names=list(names), output_names=["embedding"],
                dynamic_axes={**{n: {0: "n"} for n in names}, "embedding": {0: "n"}}, opset_version=OPSET,
                dynamo=False,
            )  # fmt: skip
    except Exception as err:  # any exporter failure means "use PyTorch"
        raise ExportError(f"cannot export {ref.label} {tower} tower to ONNX: {str(err)[:200]}") from err
    # Weights as external data: memory-mapped at load time (fast cold start).
    graph = onnx.load(str(raw))
    name = f"{tower}.onnx"
    if tower == "text_short" and text_file:  # the same weights as the full text graph: point into its file
        _share_weights(graph, tmp / text_file)
        onnx.save_model(graph, str(tmp / name))
    else:
        onnx.save_model(graph, str(tmp / name), save_as_external_data=True, size_threshold=1024,
                        all_tensors_to_one_file=True, location=f"{tower}.weights")  # fmt: skip
    raw.unlink()
    return name


def _text_cuts(model: Any) -> bool:
    """Whether a text's vector depends only on its tokens up to the end-of-text token, so texts
    that end early can run in a graph of SHORT_TEXT positions: open_clip's CLIP text path with a
    causal mask and 'argmax' pooling (end-of-text has the highest token id). A prompt of a few
    words then costs a fifth of the full 77 positions."""
    import torch

    mask = getattr(model, "attn_mask", None)
    if getattr(model, "text_pool_type", None) != "argmax" or not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        return False
    if not isinstance(model._parameters.get("positional_embedding"), torch.Tensor):
        return False
    upper = torch.ones_like(mask, dtype=torch.bool).triu(1)
    return bool((mask[~upper] == 0).all() and (mask[upper] < -1e4).all())


@contextlib.contextmanager
def _first_positions(model: Any, length: int) -> Iterator[None]:
    """open_clip's own ``encode_text`` over the first ``length`` positions: the positional
    embedding and causal mask are shadowed by their leading slices (instance attributes win over
    nn.Module's parameter lookup), so the definition stays open_clip's."""
    model.__dict__["positional_embedding"] = model._parameters["positional_embedding"][:length]
    model.__dict__["attn_mask"] = model._buffers["attn_mask"][:length, :length]
    try:
        yield
    finally:
        del model.__dict__["positional_embedding"], model.__dict__["attn_mask"]


def _share_weights(graph: Any, source: Path) -> None:
    """Point ``graph``'s initializers at equal tensors in ``source``'s external weights file, so
    the short text graph adds no copy of the text tower's weights. Unmatched ones stay inline."""
    import onnx

    src = onnx.load(str(source), load_external_data=False)
    known: dict[tuple[int, tuple[int, ...], bytes], list[tuple[str, str]]] = {}
    for tensor in src.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = [(e.key, e.value) for e in tensor.external_data]
        info = dict(entries)
        with open(source.parent / info["location"], "rb") as f:
            f.seek(int(info.get("offset", 0)))
            data = f.read(int(info["length"]))
        known[(tensor.data_type, tuple(tensor.dims), hashlib.sha1(data).digest())] = entries
    for tensor in graph.graph.initializer:
        key = (tensor.data_type, tuple(tensor.dims), hashlib.sha1(tensor.raw_data).digest())
        entries = known.get(key) if tensor.HasField("raw_data") else None
        if entries is None:
            continue
        del tensor.external_data[:]
        for k, v in entries:
            entry = tensor.external_data.add()
            entry.key, entry.value = k, v
        tensor.data_location = onnx.TensorProto.EXTERNAL
        tensor.ClearField("raw_data")


def _quantise(folder: Path) -> None:
    from .quantise import quantise_export

    meta = read_meta(folder)
    assert meta is not None
    meta["files"]["int8"] = quantise_export(folder, meta["files"]["fp32"])
    write_json_atomic(folder / META, meta)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """The exporter dumps its IR to the C-level stdout on failure; stdout may be a --json report."""
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded, some test runners)
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def clear_cache(ref: ModelRef | None = None) -> None:
    """Remove one model's exported files, or every model's."""
    target = export_dir(ref) if ref is not None else cache_root() / "onnx"
    shutil.rmtree(target, ignore_errors=True)
