"""The language of a query, for text towers that need to be told it (NLLB's FLORES-200 codes).

NLLB's tokenizer puts a language code before the text (``rus_Cyrl кошка </s>``); the wrong code,
or always ``eng_Latn``, weakens every non-English query (Immich has had bugs where the UI's locale
never reached the model, and open_clip's own ``set_language`` does not reach transformers 5's
tokenizer). A code can be given (``--lang rus_Cyrl`` or ``--lang ru``); otherwise each text's
language is detected offline with py3langid (langid.py's model, 97 languages, pure Python and
numpy), restricted to the languages the tokenizer has codes for. Other tokenizers ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import UsageError

#: langid's ISO 639-1 labels -> FLORES-200 codes (the script NLLB uses for each by default).
FLORES = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl",
    "bn": "ben_Beng", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gd": "gla_Latn",
    "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn",
    "ht": "hat_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "jv": "jav_Latn", "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr",
    "kn": "kan_Knda", "ko": "kor_Hang", "ky": "kir_Cyrl", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn",
    "mg": "plt_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn",
    "my": "mya_Mymr", "ne": "npi_Deva", "nl": "nld_Latn", "no": "nob_Latn", "pa": "pan_Guru", "pl": "pol_Latn",
    "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "si": "sin_Sinh", "sk": "slk_Latn",
    "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn",
    "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn", "ug": "uig_Arab",
    "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "xh": "xho_Latn", "yo": "yor_Latn",
    "zh": "zho_Hans", "zu": "zul_Latn",
}  # fmt: skip
#: Below this probability (py3langid's normalised score) a detection is a guess: English is kept.
MIN_CONFIDENCE = 0.2
DEFAULT = "eng_Latn"


def flores_code(language: str) -> str:
    """``ru`` or ``rus_Cyrl`` -> ``rus_Cyrl``; anything else is the user's mistake."""
    if "_" in language and len(language) == 8:
        return language
    code = FLORES.get(language.lower())
    if code is None:
        raise UsageError(f"unknown language {language!r}: give an ISO 639-1 code (ru, zh) or a FLORES-200 code")
    return code


@lru_cache(maxsize=4)
def _identifier(known: frozenset[str]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(sorted(iso for iso in ident.labels if FLORES.get(iso) in known))
    return ident


def detect(text: str, known: frozenset[str]) -> str:
    """The FLORES-200 code of ``text``'s language among ``known`` codes (English when unsure)."""
    iso, p = _identifier(known).classify(text)
    code = FLORES.get(iso, DEFAULT)
    return code if p >= MIN_CONFIDENCE and code in known else DEFAULT


def tokenize_texts(tokenizer: Any, texts: Sequence[str], language: str | None) -> np.ndarray:
    """Token ids for ``texts``; a tokenizer with language codes gets each text's own."""
    spec = getattr(tokenizer, "spec", None) or {}
    if not spec.get("language_codes"):
        return np.asarray(tokenizer(list(texts)), dtype=np.int64)
    if language:
        return np.asarray(tokenizer(list(texts), language=flores_code(language)), dtype=np.int64)
    known = tokenizer.language_codes()
    out = np.zeros((len(texts), tokenizer.context_length), np.int64)
    codes = [detect(t, known) for t in texts]
    for code in set(codes):
        rows = [i for i, c in enumerate(codes) if c == code]
        out[rows] = tokenizer([texts[i] for i in rows], language=code)
    return out
