"""Whether two pages say the same: the text check every duplicate tier passes a page through.

A perceptual code or a CLIP vector sees a page of text as grey lines on white, so every page of one
layout looks like every other; what tells two pages apart is what they say. Two texts (a PDF text
layer or OCR, in any mix) are compared as counted words, since the two read one page in different
orders; the same blind text begun at another place (two pages of one long document) still differs
in its counts at both ends:

- **same**: every word agrees, up to OCR noise (a word misread by a letter or two, words glued or
  split, specks read as a stray letter) and words missing on one side only (a crop, a line OCR
  did not find);
- **revision**: a few words differ (a changed dimension, revision letter, part number, one line of
  a report); numbers and codes are compared exactly, so ``12.50`` and ``12.56`` differ;
- **different**: anything more.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

#: Words and numbers: a decimal number stays one token (``12.50``, ``1,5``), a code's parts are
#: tokens of their own (``KX-2291-B`` -> kx 2291 b), so one changed part is one changed word.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+", re.UNICODE)
#: Letters and digits OCR takes for one another, folded before two words are compared as noise.
_CONFUSABLE = str.maketrans("01i5|", "olls" + "l")
#: Fewer words than this on either side: too little text to judge a page by.
MIN_WORDS = 4
#: Most words that may differ for two pages to be revisions of one page: a few, and a fifth of the
#: page at most (one line of a short report); past that they are two pages.
REVISION_WORDS = 12
REVISION_SHARE = 0.2
#: Words that one side lacks, tolerated as a crop or OCR's misses, as a share of the longer text.
MISSING_SHARE = 0.25
#: Two unequal words (neither holding a digit) read as one by OCR noise at this similarity.
NOISE_RATIO = 0.75


@dataclass
class TextVerdict:
    kind: str  # 'same', 'revision', 'different' or 'unknown' (too little text on a side)
    changes: list[tuple[str, str]] = field(default_factory=list)  # (words on one side, on the other)
    words: int = 0  # words of the longer text
    only_a: list[str] = field(default_factory=list)  # the words one side has and the other lacks
    only_b: list[str] = field(default_factory=list)


def words(text: str | None) -> list[str]:
    """The comparable words of a text: NFKC, case folded, punctuation dropped."""
    if not text:
        return []
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def compare(a: list[str], b: list[str]) -> TextVerdict:
    """The verdict on two pages' words (see the module's docstring)."""
    n = max(len(a), len(b))
    if min(len(a), len(b)) < MIN_WORDS:
        return TextVerdict("unknown", words=n)
    if len(set(a) & set(b)) < 0.5 * min(len(set(a)), len(set(b))):  # cheap: most words unshared
        return TextVerdict("different", words=n)
    only_a, only_b = _unshared(a, b)
    only_a, only_b = _unglued(only_a, only_b)
    only_a, only_b = _unmisread(only_a, only_b)
    if not (only_a and only_b) or any(map(_speck, only_a)) != any(map(_speck, only_b)):
        only_a = [w for w in only_a if not _speck(w)]  # specks on one side only: OCR's, not words
        only_b = [w for w in only_b if not _speck(w)]
    if only_a and only_b:  # words on both sides that the other lacks: changed, or another page
        if max(len(only_a), len(only_b)) <= min(REVISION_WORDS, max(2, REVISION_SHARE * n)):
            return TextVerdict("revision", pair_up(only_a, only_b), n, only_a, only_b)
        return TextVerdict("different", words=n, only_a=only_a, only_b=only_b)
    if len(only_a) + len(only_b) > MISSING_SHARE * n:  # one holds much more: another page
        return TextVerdict("different", words=n, only_a=only_a, only_b=only_b)
    return TextVerdict("same", words=n)


def shared(a: list[str], b: list[str]) -> float:
    """The share of the shorter text's words that the other has too (counted)."""
    if not a or not b:
        return 0.0
    return sum((Counter(a) & Counter(b)).values()) / min(len(a), len(b))


def _unshared(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """The words each side has more often than the other, in the order they come.

    Counted, not aligned: a PDF's text layer and OCR read one page in different orders (a layer
    keeps the order its program wrote, OCR reads cells of a table one by one), so the order of
    lines cannot decide; and the same text begun at another place (two pages of one long document)
    still differs in the counts at both ends."""
    extra_a, extra_b = Counter(a) - Counter(b), Counter(b) - Counter(a)
    return _in_order(a, extra_a), _in_order(b, extra_b)


def _in_order(words_: list[str], extra: Counter[str]) -> list[str]:
    left = Counter(extra)
    out = []
    for w in reversed(words_):  # the last occurrences are the extra ones
        if left[w] > 0:
            out.append(w)
            left[w] -= 1
    return out[::-1]


def _unglued(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """Drop words OCR glued (``partno``) that the other side has split (``part`` ``no``), both ways."""
    for one, other in ((a, b), (b, a)):
        pool = Counter(other)
        for w in list(one):
            for i in range(1, len(w)):
                head, tail = w[:i], w[i:]
                if pool[head] > 0 and pool[tail] > (head == tail):
                    one.remove(w)
                    pool[head] -= 1
                    pool[tail] -= 1
                    other.remove(head)
                    other.remove(tail)
                    break
    return a, b


def _unmisread(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """Drop pairs of words one of which OCR misread as the other."""
    b = list(b)
    kept_a = []
    for w in a:
        match = next((i for i, v in enumerate(b) if _misread(w, v)), None)
        if match is None:
            kept_a.append(w)
        else:
            del b[match]
    return kept_a, b


def pair_up(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """The differing words side by side, in the order they come (the longer side's rest last)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=False)]
    short = min(len(a), len(b))
    if not pairs:
        return [(" ".join(a), " ".join(b))]
    if len(a) != len(b):
        x, y = pairs[-1]
        pairs[-1] = (" ".join([x, *a[short:]]), " ".join([y, *b[short:]]))
    return pairs


def _speck(word: str) -> bool:
    """A stray mark read as a letter or two (a number is never a speck)."""
    return len(word) <= 2 and not _numeric(word)


#: Digits as they read upside down: OCR's angle classifier now and then turns one line over, and
#: ``99.089`` comes out as ``680.66``.
_TURNED = str.maketrans("69", "96")


def _misread(x: str, y: str) -> bool:
    if _numeric(x) and _numeric(y):
        return len(x) > 2 and x[::-1].translate(_TURNED) == y
    if _numeric(x) or _numeric(y) or min(len(x), len(y)) <= 2:
        return False
    x, y = x.translate(_CONFUSABLE), y.translate(_CONFUSABLE)
    return x == y or difflib.SequenceMatcher(None, x, y).ratio() >= NOISE_RATIO


def _numeric(token: str) -> bool:
    return sum(c.isdigit() for c in token) * 2 >= len(token)
