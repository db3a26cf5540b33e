"""The full-text index over ``texts.terms``: what goes in, and safe queries against it.

SQLite: FTS5 (migration 0005), ranked by BM25. PostgreSQL: its own full-text search, a GIN index
over a stored ``to_tsvector('simple', terms)`` column, ranked by ``ts_rank_cd``; there the terms are stored already
folded (:func:`server_terms`: case, accents, punctuation), because PostgreSQL's parser would keep
``A-1042/7`` or ``1.00`` as odd tokens of its own and a C-locale server lowercases only ASCII.

FTS5's ``unicode61`` tokenizer splits on spaces and punctuation, which suits alphabetic scripts but
keeps a run of Chinese or Japanese characters as one token. So the indexed ``terms`` space every CJK
character apart (and queries get the same treatment): a Chinese word becomes a phrase of its
characters, found wherever it stands in a sentence. A user's words are never handed to FTS5 as
syntax: each becomes a quoted phrase, so quotes, ``OR``, ``*`` or ``NEAR`` in a query are text.
A term with punctuation or symbols (a part code such as ``A-1042/7``, a dimension ``⌀60``) is a
phrase of its pieces, and only texts holding it literally are kept (:func:`literal_terms`).
How each engine's index is asked, and when a query is too common to score: ``textengines.py``.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])")
_WORDISH = re.compile(r"\w+", re.UNICODE)


def spaced(text: str) -> str:
    return _CJK.sub(r" \1 ", text)


def searchable(body: str) -> str:
    """The ``terms`` indexed for ``body``: the same text with each CJK character standing alone,
    then the :func:`readings` of its lines that differ from the line as read."""
    extra = [line for line in (readings(line) for line in body.splitlines()) if line]
    return spaced(body) + ("\n" + "\n".join(extra) if extra else "")


#: The diameter sign as drawings print it and OCR reads it; ``0`` is its usual misreading ("042").
DIAMETER_SIGNS = "⌀Ø∅øΦφ"
_SIGN_BEFORE_NUMBER = re.compile(rf"[{DIAMETER_SIGNS}]\s?(?=\d)")
_LEADING_ZERO = re.compile(r"(?<![\w.,+\-±])0(?=\d)")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_GLUED = re.compile(r"[^\W\d_]{9,}")


def readings(line: str, *, query: bool = False) -> str:
    """Another way to read an OCR'd line, so that what a person types finds what OCR wrote: letters
    and digits apart ("4x6.60" -> "4 x 6.60", "H12" -> "H 12"), the diameter sign or its misreading
    as a leading 0 dropped before a number ("Ø70.50", "042" -> "70.50", "42"), and runs of letters
    that lost their spaces split into words ("ALLDIMENSIONSINMM" -> "ALL DIMENSIONS IN MM").
    '' when the line reads the same. A ``query`` term is only split and stripped of signs (a 0 the
    user typed is meant)."""
    out = _SIGN_BEFORE_NUMBER.sub(" ", _LETTER_DIGIT.sub(" ", line))
    if not query:
        out = _LEADING_ZERO.sub("", out)
        out = _GLUED.sub(_split_glued, out)
    return out if out.split() != line.split() else ""


def _split_glued(match: re.Match[str]) -> str:
    """A long run of letters split into the words it most likely holds (``wordninja``'s English
    frequencies), kept only when every piece is a plausible word."""
    import wordninja

    run = match.group(0)
    pieces = wordninja.split(run)
    if len(pieces) < 2 or min(map(len, pieces)) < 2 or len(run) / len(pieces) < 3:
        return run
    return f"{run} {' '.join(pieces)}"


_PLAIN = re.compile(r"[^\W_]+", re.UNICODE)


def server_terms(body: str) -> str:
    """``terms`` as PostgreSQL indexes them: :func:`searchable`, then case-folded, accents removed
    (what FTS5's ``remove_diacritics 2`` does), and only runs of letters and digits kept."""
    return folded(searchable(body))


def folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    return " ".join(_PLAIN.findall(bare.casefold()))


def split_query(words: str) -> list[str]:
    """Terms of a ``--text`` query: shell-like, so ``"part number"`` is one phrase; an unbalanced
    quote is taken as text, never an error."""
    try:
        parts = shlex.split(words)
    except ValueError:
        parts = words.replace('"', " ").split()
    return [p for p in (p.strip() for p in parts) if _WORDISH.search(p)]


def match_expression(terms: list[str], *, whole: Collection[str] = ()) -> str:
    """An FTS5 MATCH string where every term is one quoted phrase (all must match).

    A word of three letters or more also matches as the start of a longer one ("print" finds
    "printed"), unless it is in ``whole``; numbers match whole ("15" does not find "150");
    literal codes match whole too."""
    phrases = []
    for term in terms:
        forms = []
        for form in forms_of(term):
            tokens = _WORDISH.findall(spaced(form))
            if tokens:
                prefix = " *" if term not in whole and as_prefix(term, tokens[-1]) else ""
                forms.append('"' + " ".join(tokens).replace('"', '""') + '"' + prefix)
        if forms:
            phrases.append(forms[0] if len(forms) == 1 else "(" + " OR ".join(forms) + ")")
    return " AND ".join(phrases)


def forms_of(term: str) -> list[str]:
    """A query term as typed, and as :func:`readings` would index it ("⌀38H12" -> "38 H 12"). A
    literal code also matches by its longest number alone: OCR spaces a code's letters in ways no
    reading foresees ("2x R0,15" for "2xR0,15"), and the letter-for-letter check after the index
    lookup (:func:`_holds`) keeps only the texts that hold it."""
    forms = [term]
    other = readings(term, query=True)
    if other:
        forms.append(other)
    numbers = re.findall(r"\d+", term)
    if literal_terms([term]) and numbers:
        forms.append(max(numbers, key=len))
    return forms


def as_prefix(term: str, last: str) -> bool:
    """Whether ``term``'s last token also matches as the start of a longer word: a word of three
    letters or more, not a number, not a CJK character, not part of a literal code."""
    return len(last) >= 3 and not last.isdigit() and not _CJK.search(last) and not literal_terms([term])


def literal_terms(terms: list[str]) -> list[str]:
    """Terms that must appear letter for letter (case aside): those with punctuation or symbols, e.g.
    ``KX-2291-B`` or ``⌀60``, which the tokenizer would otherwise match as ``KX 2291 B`` or ``60``."""
    return [t.casefold() for t in terms if re.search(r"[^\w\s]", t)]


@dataclass(frozen=True)
class TextHit:
    item_id: int
    rank: float  # lower is better: BM25 as FTS5 gives it, or PostgreSQL's ts_rank_cd negated
    body: str


def holds_words(body: str, words: list[str]) -> bool:
    """Whether ``body`` (or one of its readings) holds each of ``words`` (a word, or words side by
    side) where a word starts, as the index would match it (any case, accents aside)."""
    if not words:
        return True
    flat = " " + folded(searchable(body)) + " "
    return all(" " + folded(spaced(w)) in flat for w in words)


def holds(body: str, literal: list[str]) -> bool:
    """Whether ``body`` (or one of its readings) holds every ``literal`` code, letter for letter."""
    return _holds(body, literal)


def _holds(body: str, literal: list[str]) -> bool:
    if not literal:
        return True
    flat = _letters(searchable(body))  # its readings too: "2x04.80" holds "2x⌀4.80" as "2x4.80"
    return all(_letters(code) in flat for code in literal)


_DIAMETER = str.maketrans({**dict.fromkeys(DIAMETER_SIGNS, ""), ",": "."})


def _letters(text: str) -> str:
    """Text as a literal code is compared: any case, no spaces (OCR spaces codes freely: "R1.00 ±0.10"),
    decimal comma as point, and no diameter sign (OCR drops it, or reads it as Ø, Φ or a 0: the
    number itself must be there)."""
    return "".join(text.casefold().translate(_DIAMETER).split())


def boxes_holding(boxes: str, words: str) -> list[list[float]]:
    """The boxes (``[x0, y0, x1, y1]``) of the lines in ``boxes`` (``texts.boxes`` JSON) that hold a
    term of ``words``, compared as codes are (any case, no spaces, the diameter sign aside), so a
    word glued to its neighbours by OCR is found in its line too."""
    import json

    terms = [_letters(folded(t)) for t in split_query(words)]
    terms = [t for t in terms if t]
    try:
        lines = json.loads(boxes)
    except ValueError:
        return []
    return [[float(v) for v in line[:4]] for line in lines
            if any(t in _letters(folded(searchable(str(line[4])))) for t in terms)]  # fmt: skip


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def snippet(body: str, words: str, width: int = 120) -> str:
    """A one-line excerpt of ``body`` around the first term of ``words`` found, the match in [brackets]."""
    flat = " ".join(_CONTROL.sub("", body).split())  # a PDF's text layer may hold glyph codes (\x02)
    lower = flat.casefold()
    terms = split_query(words)
    codes = set(literal_terms(terms))
    for term in sorted(terms, key=lambda t: (t.casefold() in codes, len(t)), reverse=True):  # codes first
        at = lower.find(term.casefold())
        if at >= 0:
            start = max(0, at - (width - len(term)) // 2)
            end = min(len(flat), start + width)
            before, match, after = flat[start:at], flat[at : at + len(term)], flat[at + len(term) : end]
            return ("…" if start else "") + f"{before}[{match}]{after}" + ("…" if end < len(flat) else "")
    return flat[:width] + ("…" if len(flat) > width else "")
