"""The one search box: meaning, text, metadata and exclusions in one line, as people type them.

    bracket text:"KX-2291" after:2023-06 place:Lisbon -screenshot

- free words are the QUERY (what the picture shows);
- ``text:WORDS`` (quoted for several words) is text in the picture or page;
- ``after:``, ``before:``, ``place:``, ``camera:``, ``type:``, ``under:``, ``category:`` are filters;
- ``-WORD`` leaves out a category of that name, else is subtracted from the query's meaning
  (rclip-style ``--sub``); ``-category:NAME`` always names a category.
An unknown ``key:`` is part of the query text (a time like 10:30 stays a word); an unbalanced quote
is text. Nothing a person types raises here except a malformed date, which says what it expects.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .filters import Filters, date_bound

#: ``text:`` and the filters the line takes (``Filters.fields``: declared once for every front end)
KEYS = ("text", *(f.key for f in Filters.fields() if f.in_line))


@dataclass
class ParsedQuery:
    query: str | None = None
    words: str | None = None
    filters: Filters = field(default_factory=Filters)
    subtract: tuple[str, ...] = ()


def parse(line: str, categories: frozenset[str] = frozenset()) -> ParsedQuery:
    """Split a search box line; ``categories``: names that ``-NAME`` means as a category."""
    try:
        tokens = shlex.split(line)
    except ValueError:  # an unbalanced quote: take the line as plain words
        tokens = line.replace('"', " ").replace("'", " ").split()
    free: list[str] = []
    words: list[str] = []
    values: dict[str, list[str]] = {key: [] for key in KEYS}
    excluded: list[str] = []
    subtract: list[str] = []
    for token in tokens:
        negative = token.startswith("-") and len(token) > 1
        body = token[1:] if negative else token
        key, sep, value = body.partition(":")
        key = key.lower()
        if sep and key in KEYS and value:
            if negative and key == "category":
                excluded.append(value)
            elif key == "text":
                words.append(f'"{value}"' if " " in value else value)
            else:
                values[key].append(value)
        elif negative:
            (excluded if body in categories else subtract).append(body)
        else:
            free.append(token)
    for key in ("after", "before"):
        for value in values[key]:
            date_bound(value, f"{key}:")  # a malformed date is a clear message now, not an empty page
    given = {key: _value(key, found) for key, found in values.items() if key != "text"}
    filters = Filters.from_keys({**given, "not_category": excluded})
    return ParsedQuery(" ".join(free) or None, " ".join(words) or None, filters, tuple(subtract))


def _value(key: str, given: list[str]) -> list[str] | str | None:
    """A key's values as its filter takes them: all of a repeatable one, the last date given, the
    words of a place or a camera together."""
    if any(f.many for f in Filters.fields() if f.key == key):
        return given
    if not given:
        return None
    return given[-1] if key in ("after", "before") else " ".join(given)
