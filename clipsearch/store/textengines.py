"""Full-text search on each catalog engine, behind one small interface (:class:`TextEngine`):
FTS5 on SQLite, ``tsvector`` with a GIN index on PostgreSQL. ``fulltext.py`` says what a query
means (terms, readings, codes); an engine says how its index is asked, and when a query is
common.

Scoring reads every match before the best come out (FTS5's BM25, PostgreSQL's ``ts_rank_cd``), so
a query with more matches than the engine's ``common`` is answered with its newest matches (the
highest ids) instead, which the index streams. Whether a query is common is counted, up to one past
the bound, on the index itself, first with every word matched whole (a prefix, "print" finding
"printed", makes the index merge every word it starts before the first row): a common query
leaves its prefixes out, and so does a word common by itself. A phrase counts as common when its
words together are (scoring it reads every text that holds them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import column, func, literal_column, or_, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from .dialect import backend_of
from .fulltext import (
    TextHit,
    as_prefix,
    folded,
    forms_of,
    holds,
    holds_words,
    literal_terms,
    match_expression,
    spaced,
    split_query,
)
from .schema import ITEMS, TEXTS


class TextEngine(Protocol):
    """How one catalog engine's full-text index is asked."""

    #: matches past which a query is answered newest first, unscored
    common: int

    def expression(self, terms: list[str], whole: Collection[str]) -> str:
        """The index's query for ``terms`` (each a phrase, all needed), ``whole`` without prefixes."""
        ...

    def find(self, conn: Connection, terms: list[str], limit: int, where: ColumnElement[bool] | None) -> list[TextHit]:
        """The best ``limit`` texts holding every term (each a phrase), ``where`` on ``items`` applied."""
        ...

    def side_by_side_first(self, conn: Connection, terms: list[str]) -> bool:
        """Whether the texts holding ``terms`` side by side are looked for first, within the bounds."""
        ...


_FTS = table("texts_fts", column("rowid"))
#: Matches past which a query is common. Scoring reads every match, and PostgreSQL visits each
#: match's row, counting too: each bound holds `make bench`'s text fulltext_ms_p95 at 1M items.
FTS5_COMMON = 6_000
TSVECTOR_COMMON = 2_000
#: A word in more than this many times the bound's texts is too common to weigh (FTS5's BM25).
VERY_COMMON = 5


@dataclass(frozen=True)
class Fts5:
    """SQLite's FTS5 (migration 0005): an external-content table over ``texts.terms``, BM25."""

    common: int

    def expression(self, terms: list[str], whole: Collection[str]) -> str:
        return match_expression(terms, whole=whole)

    def more_than(self, conn: Connection, expression: str, count: int) -> bool:
        """Whether more than ``count`` texts match (counted up to one past it, which FTS5 streams)."""
        probe = text("SELECT count(*) FROM (SELECT rowid FROM texts_fts WHERE texts_fts MATCH :e LIMIT :n)")
        return int(conn.execute(probe, {"e": expression, "n": count + 1}).scalar() or 0) > count

    def query(self, expression: str, common: bool, filtered: bool) -> Any:
        # bm25 (the rank column) counts every match of each phrase for its weight, even for ten rows
        rank = literal_column("0.0" if common else "texts_fts.rank").label("rank")
        query = (
            select(TEXTS.c.item_id, rank, TEXTS.c.body)
            .select_from(_FTS.join(TEXTS, TEXTS.c.item_id == _FTS.c.rowid).join(ITEMS, ITEMS.c.id == TEXTS.c.item_id))
            .where(literal_column("texts_fts").op("MATCH")(expression))
        )
        return query.order_by(_FTS.c.rowid.desc()) if common else query.order_by(rank)

    def find(self, conn: Connection, terms: list[str], limit: int, where: ColumnElement[bool] | None) -> list[TextHit]:
        expression, common, checked = _expression(conn, self, terms)
        if not expression:
            return []
        query = self.query(expression, common, where is not None)
        if where is not None:
            query = query.where(where)
        return _fetch(lambda n: conn.execute(query.limit(n)).all(), limit, literal_terms(terms), checked) or []

    def side_by_side_first(self, conn: Connection, terms: list[str]) -> bool:
        return True  # FTS5 reads positions from the doclists it streams: a phrase costs what its words do


_SIMPLE = literal_column("'simple'::regconfig")
_NO_WORD = "zzqxclipsearchnowordzzqx"  # a lexeme no text holds: its estimate is the planner's floor
_VECTOR = literal_column("texts.texts_fts_vector")  # to_tsvector('simple', terms), stored, GIN-indexed


@dataclass(frozen=True)
class Tsvector:
    """PostgreSQL's full-text search: the GIN index finds, ``ts_rank_cd`` ranks (negated)."""

    common: int

    def expression(self, terms: list[str], whole: Collection[str]) -> TsQuery:  # type: ignore[override]
        return tsquery(terms, whole=whole)

    def query(self, expression: TsQuery, common: bool, filtered: bool) -> Any:
        query_ts = func.to_tsquery(_SIMPLE, str(expression))
        rank = (literal_column("0.0") if common else -func.ts_rank_cd(_VECTOR, query_ts)).label("rank")
        query = select(TEXTS.c.item_id, rank, TEXTS.c.body).where(expression.condition())
        query = query.order_by(*([] if common else [rank]), TEXTS.c.item_id.desc())
        if filtered:  # items only when filtered: PostgreSQL guesses 20,000 matches for a prefix
            query = query.join(ITEMS, ITEMS.c.id == TEXTS.c.item_id)  # and would hash all items
        return query

    def estimate(self, conn: Connection, expression: TsQuery) -> float:
        """The planner's guess of the matches, from the column's statistics (no row is read)."""
        import json

        probe = text("EXPLAIN (FORMAT JSON) SELECT 1 FROM texts WHERE texts_fts_vector @@ to_tsquery('simple', :q)")
        plan = conn.execute(probe, {"q": str(expression)}).scalar()
        return float((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]["Plan Rows"])

    def floor(self, conn: Connection) -> float:
        """The planner's guess for a word outside its statistics' most common ones (a rare word's,
        whatever its real count): guesses at or under it say nothing. Asked once a minute per
        connection (the statistics change with ANALYZE)."""
        import time

        asked, value = conn.info.get("clipsearch_tsvector_floor", (0.0, 0.0))
        if time.monotonic() - asked > 60:
            value = self.estimate(conn, TsQuery(((f"('{_NO_WORD}')",),)))
            conn.info["clipsearch_tsvector_floor"] = (time.monotonic(), value)
        return float(value)

    def bounded(self, conn: Connection, expression: TsQuery, limit: int, where: ColumnElement[bool] | None) -> Any:
        """The best ``limit`` rows, scored in one query, when there are at most ``common`` matches
        (counting costs PostgreSQL what scoring does: a visit to each match's row), else None."""
        query_ts = func.to_tsquery(_SIMPLE, str(expression))
        inner = select(TEXTS.c.item_id, TEXTS.c.body, _VECTOR.label("vector")).where(expression.condition())
        if where is not None:
            inner = inner.join(ITEMS, ITEMS.c.id == TEXTS.c.item_id).where(where)
        found = inner.limit(self.common + 1).subquery()
        rank = (-func.ts_rank_cd(found.c.vector, query_ts)).label("rank")
        query = select(found.c.item_id, rank, found.c.body, func.count().over().label("matches"))
        rows = conn.execute(query.order_by(rank, found.c.item_id.desc()).limit(limit)).all()
        return None if rows and rows[0].matches > self.common else rows

    def find(self, conn: Connection, terms: list[str], limit: int, where: ColumnElement[bool] | None) -> list[TextHit]:
        """Counting costs what scoring does (a visit to each match's row), so the matches are
        scored in one query that stops past the bound; a query the planner's statistics already
        call common, or that passes the bound, is answered newest first with its words matched
        whole. A word common by itself is matched whole when scored too: GIN gathers every text
        that holds a prefix's words before it can intersect them (ten times the work, at 1M)."""
        literal = literal_terms(terms)
        exact = self.expression(terms, terms)
        if not exact:
            return []
        guessed: dict[str, float] = {}

        def estimate(expression: TsQuery) -> float:  # each asked once: a single word is its own last word
            if expression not in guessed:
                guessed[expression] = self.estimate(conn, expression)
            return guessed[expression]

        floor = self.floor(conn)  # what the planner guesses for any word it has no statistics of
        if estimate(exact) <= max(self.common * VERY_COMMON, floor):
            last = {t: t.split()[-1] for t in terms}  # the word a prefix would stand for
            whole = [t for t in terms if estimate(self.expression([last[t]], [last[t]])) > max(self.common, floor)]
            scored = self.expression(terms, whole)
            hits = _fetch(lambda n: self.bounded(conn, scored, n, where), limit, literal)
            if hits is not None:
                return hits
        query = self.query(exact, True, where is not None)
        if where is not None:
            query = query.where(where)
        return _fetch(lambda n: conn.execute(query.limit(n)).all(), limit, literal) or []

    def side_by_side_first(self, conn: Connection, terms: list[str]) -> bool:
        """Only when the terms are together in at most ``common`` texts: GIN keeps no positions,
        so each text holding them all is read to see whether they stand side by side."""
        words = [w for t in terms for w in t.split()]
        return self.estimate(conn, self.expression(words, words)) <= self.common


@dataclass(frozen=True)
class TsQuery:
    """A PostgreSQL full-text query: per term (all needed), its forms (any may match), each a
    ``to_tsquery`` text. ``str()`` is the whole query (for ranking and the planner); the rows are
    found by :meth:`condition`, one index test per form: a form that is a phrase needs each row it
    finds read again for positions (GIN keeps none), and in one query that reading would spread to
    the rows every other form finds (one term's forms are tested apart; several terms together,
    which GIN intersects far faster than separate tests would be).
    """

    parts: tuple[tuple[str, ...], ...]

    def __str__(self) -> str:
        return " & ".join(p[0] if len(p) == 1 else "(" + " | ".join(p) + ")" for p in self.parts)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def condition(self) -> ColumnElement[bool]:
        if len(self.parts) != 1:  # several terms: GIN intersects them inside one query far faster
            return _VECTOR.op("@@")(func.to_tsquery(_SIMPLE, str(self)))
        return or_(*(_VECTOR.op("@@")(func.to_tsquery(_SIMPLE, f)) for f in self.parts[0]))


def tsquery(terms: list[str], *, whole: Collection[str] = ()) -> TsQuery:
    """PostgreSQL's query for ``terms``, with :func:`match_expression`'s meaning: each term a
    phrase (``<->``), all terms needed (``&``), a word of three letters or more also the start of a
    longer one (``:*``) unless in ``whole``. Tokens are letters and digits only, so nothing in them
    is syntax."""
    parts = []
    for term in terms:
        forms = []
        for form in forms_of(term):
            tokens = folded(spaced(form)).split()
            if tokens:
                quoted = [f"'{t}'" for t in tokens]
                quoted[-1] += ":*" if term not in whole and as_prefix(term, tokens[-1]) else ""
                forms.append("(" + " <-> ".join(quoted) + ")")
        if forms:
            parts.append(tuple(forms))
    return TsQuery(tuple(parts))


def search(conn: Connection, words: str, limit: int, where: ColumnElement[bool] | None = None) -> list[TextHit]:
    """Items whose text holds every term of ``words``, best first (at most ``limit``), by the
    catalog engine's own full-text index (``store/textengines.py``).

    Several terms are looked for as one phrase first: the texts that hold them side by side, as
    typed (``⌀12 H7`` on a drawing), rank before those that hold each somewhere (on PostgreSQL
    while they are together in at most its bound of texts; past it, newest first). ``where``: a
    condition on ``items`` (metadata filters), applied inside the query so filters never shorten
    the result list below what exists.
    """
    terms = split_query(words)
    engine = engine_for(conn)
    if len(terms) < 2 or not engine.side_by_side_first(conn, terms):
        return engine.find(conn, terms, limit, where)
    together = engine.find(conn, [" ".join(terms)], limit, where)
    seen = {h.item_id for h in together}
    return (together + [h for h in engine.find(conn, terms, limit, where) if h.item_id not in seen])[:limit]


def engine_for(conn: Connection) -> TextEngine:
    """The full-text engine of the catalog behind ``conn`` (by its backend's name; the bounds are
    read at each call, so a test may lower them)."""
    engines: dict[str, Callable[[], TextEngine]] = {"sqlite": lambda: Fts5(FTS5_COMMON),
                                                     "postgresql": lambda: Tsvector(TSVECTOR_COMMON)}  # fmt: skip
    return engines[backend_of(conn).name]()


def _expression(conn: Connection, engine: Fts5, terms: list[str]) -> tuple[str, bool, list[str]]:
    """The query for ``terms``, whether it is common (see the module's docstring), and the terms
    left to check on the texts found. BM25 weighs a word by counting every text that holds it (the
    whole doclist of "the"): a word nearly everywhere is checked on the texts the others find,
    and a phrase holding one is answered newest first."""
    exact = engine.expression(terms, terms)
    if not exact:
        return "", False, []
    counted: dict[str, bool] = {}

    def more(expression: str) -> bool:  # each expression counted once
        if expression not in counted:
            counted[expression] = bool(expression) and engine.more_than(conn, expression, engine.common)
        return counted[expression]

    words = [w for t in terms for w in t.split()]  # a phrase's score reads the texts that hold its words
    if more(engine.expression(words, words) or exact):
        return exact, True, []
    common = [t for t in terms if more(engine.expression(t.split()[-1:], t.split()))]
    full = engine.expression(terms, common)  # a common word's prefix: all the words it starts
    if full != exact and more(full):
        return full, True, []

    def everywhere(term: str) -> bool:  # in VERY_COMMON times the bound: one text in twenty, at 1M
        expression = engine.expression([term], [term])
        return bool(expression) and engine.more_than(conn, expression, engine.common * VERY_COMMON)

    if len(terms) == 1 and len(words) > 1 and any(everywhere(w) for w in words):
        return exact, True, []  # a phrase's weight counts its texts: with such a word, newest first
    checked = [t for t in common if everywhere(t)]  # checked on the texts found: most hold it
    rest = [t for t in terms if t not in checked]
    if checked and rest and not more(engine.expression(rest, common)):
        return engine.expression(rest, common), False, checked
    return full, False, []


def _fetch(
    rows_for: Callable[[int], Sequence[Any] | None], limit: int, literal: list[str], checked: Sequence[str] = ()
) -> list[TextHit] | None:
    """The first ``limit`` of ``rows_for(n)`` that hold the literal codes and the checked words,
    asking for more until there are enough or no more; None when ``rows_for`` says too many."""
    fetch = limit * 4 + 50 if literal or checked else limit  # rows are dropped here: ask for more
    while True:
        rows = rows_for(fetch)
        if rows is None:
            return None
        hits = [TextHit(r.item_id, float(r.rank), r.body) for r in rows
                if holds(r.body, literal) and holds_words(r.body, list(checked))]  # fmt: skip
        if len(hits) >= limit or len(rows) < fetch:
            return hits[:limit]
        fetch *= 4
