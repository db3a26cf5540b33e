"""Start a cold query's slow parts on background threads before the catalog layer is imported.

A new ``clipsearch search`` process spends most of its time loading things: SQLAlchemy,
the ONNX text tower, the FAISS file (`make bench`: startup, cold_query_s). Only the first is Python
work that holds the GIL; ONNX Runtime and FAISS load in C++. So the CLI reads the manifest (plain
JSON), starts embedding the query text and reading the FAISS file on two threads, then imports
and opens the catalog; the query path picks up both results (``onnx_runtime.shared_encoder``,
``vectors.preload``) as if it had loaded them itself.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path


def prefetch_query(index_folder: str | os.PathLike[str], texts: Sequence[str], device: str | None = None) -> None:
    """Best effort: anything unexpected is left for the main path to meet and report."""
    try:
        manifest = json.loads((Path(index_folder) / "manifest.json").read_text(encoding="utf-8"))
        vectors_file = Path(index_folder) / manifest["vectors"].get("file", "vectors.faiss")
        synced = int(manifest["vectors"].get("synced_seq", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return
    if synced:
        from ..store.vectors import preload

        preload(vectors_file)
    if texts:
        _prefetch_texts(manifest, list(texts), device)


def _prefetch_texts(manifest: dict, texts: list[str], device: str | None) -> None:
    from ..config import RuntimeChoice, export_precision
    from ..errors import UsageError
    from ..models.onnx_export import export_dir, has_export
    from ..models.registry import ModelInfo
    from ..models.runtimes import query_plan, shared_encoder

    try:
        info = ModelInfo.from_dict(manifest["model"])
        precision = str(manifest.get("encoding", {}).get("precision", "fp32"))
    except (KeyError, TypeError, ValueError):
        return
    try:  # the same decision load_encoder will make for queries (never on a GPU)
        runtime, dev, precision = query_plan(None, RuntimeChoice(device=device).resolved_device, precision)
    except UsageError:
        return
    if dev != "cpu" or runtime not in ("onnx", "openvino"):
        return
    folder = export_dir(info.ref)
    if not has_export(folder, export_precision(precision)):
        return

    def run() -> None:
        try:
            shared_encoder(folder, precision, runtime).encode_texts(texts)
        except Exception:  # the main path will meet (and report) the same problem
            return

    threading.Thread(target=run, name="clipsearch-prefetch", daemon=True).start()
