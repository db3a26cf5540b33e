"""Hugging Face tokenizers (SigLIP's Gemma/T5, XLM-R, NLLB, BERT) without torch or transformers.

open_clip tokenizes these models with ``transformers.AutoTokenizer`` (its ``HFTokenizer``), which
imports torch and transformers: seconds on a cold query, and a dependency no query should need.
This is the same pipeline on the ``tokenizers`` library, which is what a fast transformers
tokenizer runs underneath:

- the model's ``tokenizer.json`` (normaliser, pre-tokeniser, vocabulary, post-processor);
- ``tokenizer_config.json`` for what transformers adds on top: ``add_bos_token`` /
  ``add_eos_token`` rebuild the post-processor (as ``TokenizersBackend.update_post_processor``
  does), the pad token and the padding side;
- open_clip's own steps around the call: the ``clean`` function (``whitespace`` by default,
  ``canonicalize`` for SigLIP: lowercase, punctuation removed), ``padding='max_length'`` with
  truncation to the context length (special tokens kept, EOS included), ``strip_sep_token``;
- NLLB's language code in front of the text (``set_src_lang_special_tokens``): ``lang $A </s>``.

Getting padding exactly right matters: SigLIP pools the last position with no attention mask, so a
wrong pad id or side silently changes every text vector. ``tests/test_model_families.py`` compares
ids with open_clip's own tokenizer (transformers is the reference there, not a dependency here).
"""

from __future__ import annotations

import html
import json
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

#: Files of a Hugging Face tokenizer folder that this module reads (the first is required).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
#: NLLB's default source language (transformers' ``NllbTokenizer(src_lang=None)``).
NLLB_DEFAULT_LANGUAGE = "eng_Latn"


def basic_clean(text: str) -> str:
    """open_clip's ``basic_clean``: ftfy repairs, HTML entities twice, outer whitespace.

    Printable ASCII without '&' is left as it is by ftfy (no mojibake, entities, control characters
    or widths to fix), so a cold English query skips ftfy's import (as ``tokenizer`` does)."""
    if not (text.isascii() and text.isprintable()) or "&" in text:
        import ftfy

        text = ftfy.fix_text(text)
    return html.unescape(html.unescape(text)).strip()


def whitespace_clean(text: str) -> str:
    return " ".join(text.split()).strip()


def canonicalize(text: str) -> str:
    """open_clip's ``canonicalize_text`` (big_vision's): '_' as space, no punctuation, lowercase."""
    text = text.replace("_", " ").translate(_PUNCTUATION).lower()
    return " ".join(text.split()).strip()


CLEANERS = {
    "whitespace": lambda t: whitespace_clean(basic_clean(t)),
    "lower": lambda t: whitespace_clean(basic_clean(t)).lower(),
    "canonicalize": lambda t: canonicalize(basic_clean(t)),
}


def _token(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_spec(
    folder: Path,
    context_length: int,
    clean: str = "whitespace",
    strip_sep_token: bool = False,
    language: str | None = None,
) -> dict[str, Any]:
    """The tokenizer's recipe as data (recorded in an export's ``export.json``), from its files."""
    from tokenizers import Tokenizer

    if clean not in CLEANERS:
        raise ModelError(f"unknown tokenizer clean mode {clean!r}: expected one of {', '.join(CLEANERS)}")
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config: dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):  # the config wins, as in transformers
        path = folder / name
        if path.is_file():
            config.update(json.loads(path.read_text(encoding="utf-8")))
    ids = {}
    for role in ("pad", "bos", "eos", "sep"):
        token = _token(config.get(f"{role}_token"))
        ids[role] = tok.token_to_id(token) if token is not None else None
    if ids["pad"] is None and tok.padding is not None:
        ids["pad"] = int(tok.padding["pad_id"])
    klass = str(config.get("tokenizer_class", "")).removesuffix("Fast")
    template = None
    if "add_bos_token" in config or "add_eos_token" in config:
        template = {"bos": bool(config.get("add_bos_token", False)), "eos": bool(config.get("add_eos_token", False))}
    return {
        "kind": "hf",
        "file": "tokenizer.json",
        "context_length": int(context_length),
        "clean": clean,
        "pad_id": int(ids["pad"] if ids["pad"] is not None else 0),
        "padding_side": str(config.get("padding_side", "right")),
        "bos_id": ids["bos"],
        "eos_id": ids["eos"],
        "sep_id": ids["sep"] if strip_sep_token else None,
        "template": template,
        "language_codes": klass == "NllbTokenizer",
        "legacy_language": bool(config.get("legacy_behaviour", False)),
        "language": language,
        "tokenizer_class": klass,
    }


class HFTokenizer:
    """Texts -> (N, context_length) int64 ids, as open_clip's ``HFTokenizer`` gives them."""

    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        from tokenizers import Tokenizer

        path = folder / spec.get("file", "tokenizer.json")
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as err:  # a missing or damaged file: one line saying which
            raise ModelError(f"cannot read the tokenizer {path}: {str(err)[:160]}") from err
        self.spec = spec
        self.context_length = int(spec["context_length"])
        self._clean = CLEANERS[spec.get("clean", "whitespace")]
        self._processors: dict[str | None, Any] = {}
        self._codes: frozenset[str] | None = None
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=self.context_length)
        self._base_processor = self._tok.post_processor
        self.language = spec.get("language")

    def _processor(self, language: str | None) -> Any:
        """The post-processor: the file's, rebuilt from add_bos/add_eos, or NLLB's language template."""
        if language in self._processors:
            return self._processors[language]
        from tokenizers import processors

        spec, proc = self.spec, self._base_processor
        if spec.get("language_codes"):
            code = language or NLLB_DEFAULT_LANGUAGE
            code_id, eos = self._tok.token_to_id(code), spec.get("eos_id")
            if code_id is None:
                raise ModelError(f"the tokenizer has no language code {code!r} (NLLB uses FLORES-200 codes: rus_Cyrl)")
            eos_token = self._tok.id_to_token(eos)
            single, pair = f"{code} $A {eos_token}", f"{code} $A $B {eos_token}"
            if spec.get("legacy_language"):  # NllbTokenizer(legacy_behaviour=True): the code after EOS
                single, pair = f"$A {eos_token} {code}", f"$A $B {eos_token} {code}"
            proc = processors.TemplateProcessing(
                single=single, pair=pair, special_tokens=[(code, code_id), (eos_token, eos)]
            )
        elif spec.get("template") is not None:
            proc = _bos_eos_template(self._tok, spec)
        self._processors[language] = proc
        return proc

    def language_codes(self) -> frozenset[str]:
        """The FLORES-200 codes (``rus_Cyrl``) among the tokenizer's special tokens (read once: a
        scan of the whole vocabulary, 256k entries for NLLB, is not for every query)."""
        if self._codes is None:
            import re

            pattern = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
            self._codes = frozenset(t for t in self._tok.get_vocab(with_added_tokens=True) if pattern.match(t))
        return self._codes

    def token(self, token_id: int) -> str:
        """The token of an id (what a row of ``__call__``'s output holds)."""
        return str(self._tok.id_to_token(token_id))

    def __call__(self, texts: str | Sequence[str], language: str | None = None) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        self._tok.post_processor = self._processor(language or self.language)
        encodings = self._tok.encode_batch([self._clean(t) for t in texts])
        pad, n = int(self.spec["pad_id"]), self.context_length
        out = np.full((len(texts), n), pad, dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids = enc.ids[:n]
            if self.spec.get("padding_side") == "left":
                out[row, n - len(ids) :] = ids
            else:
                out[row, : len(ids)] = ids
        sep = self.spec.get("sep_id")
        if sep is not None:
            out[out == sep] = 0  # open_clip: torch.where(ids == sep, zeros, ids)
        return out


def _bos_eos_template(tok: Any, spec: dict[str, Any]) -> Any:
    """transformers' ``update_post_processor``: ``[bos] $A [eos]`` by the config's two flags."""
    from tokenizers import processors

    ids = {f: spec[f"{f}_id"] for f in ("bos", "eos") if spec["template"][f] and spec.get(f"{f}_id") is not None}
    bos, eos = (tok.id_to_token(ids[f]) if f in ids else None for f in ("bos", "eos"))
    special = [(tok.id_to_token(i), i) for i in ids.values()]
    parts = [f"{bos}:0"] * bool(bos) + ["$A:0"] + [f"{eos}:0"] * bool(eos)
    pair = parts + [f"{bos}:1"] * bool(bos) + ["$B:1"] + [f"{eos}:1"] * bool(eos)
    return processors.TemplateProcessing(single=" ".join(parts), pair=" ".join(pair), special_tokens=special)
