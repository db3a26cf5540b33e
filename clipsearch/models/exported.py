"""An exported model (``onnx_export``): the shared part of every runtime that runs its graphs.

Texts always run in ONNX Runtime, whatever runs the images: it opens a tower faster than OpenVINO
compiles one, so a text query never pays OpenVINO's compile, and text vectors and their cache are
the same for every image runtime and precision. Each tower gets its own session, created on first
use, so a text query never loads the image tower. Preprocessing and tokenising are torch-free re-implementations checked
against open_clip (``preprocess.py``, ``tokenizer.py``). The image tower is the subclass's
(``onnx_runtime``, ``openvino_runtime``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .encoder import Abilities, normalise
from .onnx_export import read_meta
from .preprocess import Preprocessor
from .registry import ModelInfo
from .textcache import TextCache


class ExportedEncoder:
    """The :class:`~clipsearch.models.encoder.Encoder` protocol over an export folder (see ``onnx_export``).
    Shared by the process (``runtimes.shared_encoder``) and never changed by a caller once made:
    a text's language comes with each call.

    ``threads``: intra-op threads (default: every core). Sessions do not spin while idle, so the
    threads decoding the next batch get the cores back while the model waits for them.
    """

    abilities = Abilities(languages=True, prepares=True)

    def __init__(self, folder: str | os.PathLike[str], precision: str = "fp32", threads: int | None = None) -> None:
        self.folder = Path(folder)
        meta = read_meta(self.folder)
        if meta is None or precision not in meta.get("files", {}):
            raise ModelError(f"no {precision} ONNX export in {self.folder}")
        self.meta = meta
        self.precision = precision
        self.info = ModelInfo.from_dict(meta["model"])
        self.threads = threads or os.cpu_count() or 1
        self._sessions: dict[str, Any] = {}
        self._locks = {tower: threading.Lock() for tower in ("visual", "text", "text_short")}  # load at once
        self._preparing_lock = threading.Lock()
        self._tokenizer: Any = None
        self._table: Any = None
        self._preparing: threading.Thread | None = None
        self.text_cache = TextCache(self.folder / f"texts-{precision}.sqlite", self.info.dim)
        self._image_pre = Preprocessor.for_model(self.info)
        self._document_pre = Preprocessor.for_model(self.info, letterbox=True)

    @property
    def logit_scale(self) -> float:
        return self.info.logit_scale

    @property
    def towers_loaded(self) -> list[str]:
        """The graphs opened so far ('visual', 'text', 'text_short'): a cached text opens none."""
        return sorted(self._sessions)

    def session(self, tower: str) -> Any:
        """The ONNX Runtime session for 'visual', 'text' or 'text_short', created on first use."""
        with self._locks[tower]:
            sess = self._sessions.get(tower)
            if sess is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                if tower != "visual":
                    # Prepacking copies every weight matrix into the kernels' layout when the session
                    # opens: worth it over many image batches, not for a query of one text. Off, a
                    # SigLIP2 text graph opens in under a third of the time and runs one text a
                    # little slower (make bench: cold_query_s).
                    options.add_session_config_entry("session.disable_prepacking", "1")
                path = self.folder / self.meta["files"][self.precision][tower]
                try:
                    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                except Exception as err:  # a damaged cache entry: say which, how to fix
                    raise ModelError(
                        f"cannot load {path} ({str(err)[:160]}); delete {self.folder} to export it again"
                    ) from err
                self._sessions[tower] = sess
            return sess

    def prepare_images(self) -> None:
        """Start loading the image tower on a thread (once), so it overlaps the caller's start-up
        work (imports, catalog, scan, first decodes). Errors are left for the first
        ``encode_images`` to meet. Not a daemon: a runtime still compiling when the interpreter
        exits aborts the process, so exit waits for it."""
        with self._preparing_lock:
            if self._preparing is not None:
                return
            self._preparing = threading.Thread(target=self._load_images_quietly, name="clipsearch-model-load")
        self._preparing.start()

    def _load_images_quietly(self) -> None:
        with contextlib.suppress(Exception):  # encode_images loads again and reports it
            self._image_runner()
            # the first inference initialises kernels (OpenVINO bf16 most): off the main path too
            size = self.info.image_size
            self.encode_images(np.zeros((1, 3, size, size), np.float32))

    def _image_runner(self) -> Any:
        """The loaded image tower (loading it on first call); each runtime has its own."""
        raise NotImplementedError

    def preprocess(self, image: Any, letterbox: bool = False) -> np.ndarray:
        return (self._document_pre if letterbox else self._image_pre)(image)

    def encode_images(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, dim) unit rows, in the subclass's runtime."""
        raise NotImplementedError

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, read on first use (a cached query never needs it)."""
        if self._tokenizer is None:
            spec = self.meta.get("tokenizer")
            if spec:
                from .tokenizer import from_spec

                self._tokenizer = from_spec(spec, self.folder)
            else:  # a tokenizer with no torch-free mirror: open_clip's own, which needs torch
                from .loading import open_clip_name
                from .tokenizer import OpenClipTokenizer

                self._tokenizer = OpenClipTokenizer(open_clip_name(self.info.ref), self.info.context_length)
        return self._tokenizer

    def tokenize(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        from .language import tokenize_texts

        return tokenize_texts(self.tokenizer, list(texts), language)

    def _text_feed(self, sess: Any, tokens: np.ndarray) -> dict[str, np.ndarray]:
        """A text graph's inputs: the tokens and, where the export keeps the token table apart
        (``text_table.py``), their rows gathered from the memory-mapped table."""
        names = [i.name for i in sess.get_inputs()]
        if len(names) == 1:
            return {names[0]: tokens}
        from .text_table import ROWS_INPUT, Table

        if self._table is None:
            self._table = Table(self.folder / self.meta["text_table"])
        feed = {"tokens": tokens, ROWS_INPUT: self._table(tokens)}
        return {n: feed[n] for n in names}

    def encode_texts(self, texts: Sequence[str], language: str | None = None) -> np.ndarray:
        """Unit vectors for ``texts``; ones embedded before (any run, any index) come from the cache."""
        return self.text_cache.vectors(texts, language, lambda missing: self._embed_texts(missing, language))

    def _embed_texts(self, texts: list[str], language: str | None) -> np.ndarray:
        tokens = self.tokenize(texts, language)
        short = int(self.meta.get("text_short_length", 0))
        if short and int(tokens.argmax(axis=1).max()) < short:  # every text ends early: the short graph
            sess, tokens = self.session("text_short"), tokens[:, :short]
        else:
            sess = self.session("text")
        return normalise(sess.run(None, self._text_feed(sess, tokens))[0])
