"""Tokenizers for every runtime, without PyTorch: CLIP's byte-pair tokenizer here, Hugging Face
ones in ``hf_tokenizer``, and :func:`text_tokenizer`, which picks by open_clip's own rules.

CLIP's byte-pair tokenizer is for the cold text-query path.

open_clip's ``SimpleTokenizer`` imports torch (it returns a tensor); a text query run through ONNX
Runtime must not pay seconds for that. This is the same algorithm (OpenAI CLIP, MIT licence), reading
open_clip's own vocabulary file (``bpe_simple_vocab_16e6.txt.gz``, found without importing
open_clip), cleaning text the way its default ``clean='lower'`` does, and returning int64 arrays.
``tests/test_runtime.py`` compares it token for token with open_clip's tokenizer.
"""

from __future__ import annotations

import gzip
import importlib.util
import itertools
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .hf_tokenizer import CLEANERS

SOT, EOT = "<start_of_text>", "<end_of_text>"
_MERGES = 49152 - 256 - 2


def default_vocab_path() -> Path:
    """open_clip's BPE vocabulary, located through the import system without running open_clip."""
    spec = importlib.util.find_spec("open_clip")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "bpe_simple_vocab_16e6.txt.gz"
        if path.is_file():
            return path
    raise ModelError("open_clip's tokenizer vocabulary (bpe_simple_vocab_16e6.txt.gz) was not found")


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


#: open_clip's default ``clean='lower'`` (one definition for both tokenizers, see hf_tokenizer).
_clean = CLEANERS["lower"]


def _build_tables(vocab_path: Path) -> tuple[dict[str, int], dict[tuple[str, ...], int]]:
    with gzip.open(vocab_path) as f:
        merges_text = f.read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in merges_text[1 : _MERGES + 1]]
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + [SOT, EOT]
    return {token: i for i, token in enumerate(vocab)}, {m: i for i, m in enumerate(merges)}


def _tables(vocab_path: Path, cached: Path | None) -> tuple[dict[str, int], dict[tuple[str, ...], int]]:
    """The vocabulary's lookup tables, from the pickle ``cached`` when it matches the vocabulary file."""
    import pickle

    st = vocab_path.stat()
    stamp = (str(vocab_path), st.st_size, st.st_mtime_ns)
    if cached is not None:
        try:
            with open(cached, "rb") as f:
                data = pickle.load(f)  # our own file in the user's cache folder
            if data[0] == stamp:
                return data[1], data[2]
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError):
            pass
    encoder, ranks = _build_tables(vocab_path)
    if cached is not None:
        from ..atomic import atomic_path

        try:
            with atomic_path(cached) as tmp, open(tmp, "wb") as f:
                pickle.dump((stamp, encoder, ranks), f, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:
            pass
    return encoder, ranks


class ClipTokenizer:
    """Text -> (N, context_length) int64 token ids, identical to open_clip's default tokenizer."""

    def __init__(
        self, context_length: int = 77, vocab_path: str | Path | None = None, tables: Path | None = None
    ) -> None:
        """``tables``: a pickle of the built lookup tables (written on first use, read after:
        faster than parsing the vocabulary, which matters to a cold query; `make bench`: cold_query_s)."""
        import regex

        self.encoder, self.bpe_ranks = _tables(Path(vocab_path) if vocab_path else default_vocab_path(), tables)
        self.cache = {SOT: SOT, EOT: EOT}
        self.pattern = regex.compile(
            rf"{SOT}|{EOT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+", regex.IGNORECASE
        )
        self.byte_encoder = _bytes_to_unicode()
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]
        self.context_length = context_length

    def _bpe(self, token: str) -> str:
        cached = self.cache.get(token)
        if cached is not None:
            return cached
        word = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            merged: list[str] = []
            i = 0
            while i < len(word):
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        self.cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for token in self.pattern.findall(_clean(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(token).split(" "))
        return ids

    def __call__(self, texts: str | Sequence[str], language: str | None = None) -> np.ndarray:
        """``language`` is ignored: only NLLB's tokenizer takes one (see hf_tokenizer)."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[row, : len(ids)] = ids
        return out


class OpenClipTokenizer:
    """open_clip's own tokenizer for a model whose tokenizer has no torch-free mirror here (e.g.
    ``tokenizer_mode='clips'``): imports torch, and transformers for HF tokenizers."""

    spec: dict[str, Any] | None = None
    folder: Path | None = None

    def __init__(self, name: str, context_length: int) -> None:
        import open_clip

        self._tok = open_clip.get_tokenizer(name)
        self.context_length = int(getattr(self._tok, "context_length", None) or context_length)

    def __call__(self, texts: str | Sequence[str], language: str | None = None) -> np.ndarray:
        return self._tok([texts] if isinstance(texts, str) else list(texts)).numpy()


def text_tokenizer(ref: Any) -> Any:
    """The tokenizer open_clip would give ``ref`` (``open_clip.get_tokenizer``'s rules, read from the
    model's config as data), torch-free where a mirror exists: CLIP BPE or a Hugging Face
    ``tokenizer.json``. Each has ``spec`` (recorded in an export, None for open_clip's own) and
    ``folder`` (where the spec's files are) and returns int64 arrays."""
    from .hf_tokenizer import HFTokenizer, read_spec
    from .loading import model_config, open_clip_name, tokenizer_folder

    text = model_config(ref).get("text_cfg", {})
    context = int(text.get("context_length") or 77)
    kwargs = dict(text.get("tokenizer_kwargs", {}))
    hf_name = text.get("hf_tokenizer_name") or (ref.name[len("hf-hub:") :] if ref.kind == "hf" else "")
    if text.get("tokenizer_mode") or (not hf_name and "siglip" in ref.name.lower() and ref.kind == "arch"):
        return OpenClipTokenizer(open_clip_name(ref), context)
    if text.get("hf_tokenizer_name"):
        folder = tokenizer_folder(ref, hf_name)
        clean, strip = kwargs.pop("clean", "whitespace"), bool(kwargs.pop("strip_sep_token", 0))
        tok = HFTokenizer(read_spec(folder, context, clean, strip, kwargs.pop("language", None)), folder)
        tok.folder = folder
        return tok
    if (
        set(kwargs) - {"clean"}
        or kwargs.get("clean", "lower") != "lower"
        or int(text.get("vocab_size", 49408)) != 49408
    ):
        return OpenClipTokenizer(open_clip_name(ref), context)
    tok = ClipTokenizer(context)
    tok.spec, tok.folder = {"kind": "clip-bpe", "context_length": context}, None
    return tok


def from_spec(spec: dict[str, Any], folder: Path) -> Any:
    """The tokenizer an export recorded (``spec``), with its files in ``folder``."""
    if spec.get("kind") == "clip-bpe":
        return ClipTokenizer(int(spec["context_length"]), tables=folder.parent / "clip-bpe-tables.pickle")
    if spec.get("kind") == "hf":
        from .hf_tokenizer import HFTokenizer

        return HFTokenizer(spec, folder)
    raise ModelError(f"unknown tokenizer kind {spec.get('kind')!r} in {folder}; delete that folder to export again")
