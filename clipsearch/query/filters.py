"""What a query may return: categories, and metadata (date taken, folder, place, camera, file type).

Filters become one SQL condition on ``items`` (:meth:`Filters.clause`), used inside the vector search
(as a FAISS ID selector over the ids it selects) and inside the full-text query, so a filtered query
returns every match there is, never a filtered top-k that came up short.

SQLAlchemy is imported only when a condition is built: a command builds its ``Filters`` from its
flags before the catalog is open, and a cold ``search`` must not wait for SQLAlchemy to do that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from .categories import Categories

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")
#: Names a file type goes by: ``--type jpg`` also finds .jpeg files, and ``--type jpeg`` .jpg ones.
_SAME_TYPE = (("jpg", "jpeg", "jpe", "jfif"), ("tif", "tiff"), ("heic", "heif"))
TYPE_ALIASES = {name: group for group in _SAME_TYPE for name in group}


def date_bound(value: str, flag: str) -> str:
    """'2023', '2023-06' or '2023-06-14' -> the ISO time that period starts at."""
    import datetime

    m = _DATE.match(value.strip())
    if not m:
        raise UsageError(f"{flag} takes a date as YYYY, YYYY-MM or YYYY-MM-DD, not {value!r}")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        datetime.date(year, month, day)  # the calendar's own rule: 2023-02-31 and 2023-13 are no dates
    except ValueError:
        given = f"{flag}{value}" if flag.endswith(":") else f"{flag} {value}"
        raise UsageError(f"no such date: {given}") from None
    return f"{year:04d}-{month:02d}-{day:02d}T00:00:00"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Filters:
    """``include``: items labelled with any of these categories (per facet; all facets named must
    match); ``exclude``: items labelled with none of these. ``after`` / ``before``: taken on or after
    the start of / before the start of a date (YYYY, YYYY-MM or YYYY-MM-DD). ``under``: in these
    folders (recursively). ``place`` / ``camera``: the place name / camera contains this (any case).
    ``types``: file types (``jpg``, ``pdf``...). ``cluster``: items of this group of the library's
    map (``clipsearch map``)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    under: tuple[str, ...] = ()
    place: str | None = None
    camera: str | None = None
    types: tuple[str, ...] = ()
    cluster: int | None = None

    @property
    def active(self) -> bool:
        return any((self.include, self.exclude, self.after, self.before, self.under, self.place, self.camera,
                    self.types)) or self.cluster is not None  # fmt: skip

    def clause(
        self, categories: Categories | None = None, members: Callable[[int], Sequence[int]] | None = None
    ) -> ColumnElement[bool] | None:
        """The condition on ``items`` these filters mean (None: no filter). ``members`` gives the
        item ids of a map's group (``cluster``)."""
        from sqlalchemy import and_, or_

        from ..store.dialect import path_under
        from ..store.schema import ITEMS

        parts: list[ColumnElement[bool]] = []
        if self.after:
            parts.append(ITEMS.c.taken >= date_bound(self.after, "--after"))
        if self.before:
            parts.append(ITEMS.c.taken < date_bound(self.before, "--before"))
        if self.under:
            folders = [os.path.abspath(os.path.expanduser(u)).rstrip(os.sep) for u in self.under]
            parts.append(or_(*(path_under(ITEMS.c.path, f) for f in folders)))
        if self.place:
            parts.append(ITEMS.c.place.ilike(_like(self.place), escape="\\"))
        if self.camera:
            parts.append(ITEMS.c.camera.ilike(_like(self.camera), escape="\\"))
        if self.types:
            names = {alias for t in self.types for alias in TYPE_ALIASES.get(t.lower().lstrip("."), (t.lower(),))}
            parts.append(ITEMS.c.file_type.in_(sorted(names)))
        if categories is not None and (self.include or self.exclude):
            parts.extend(self._category_parts(categories))
        if self.cluster is not None:
            if members is None:
                raise UsageError("a map group filter needs the index's map: run `clipsearch map` first")
            from sqlalchemy import text

            ids = ",".join(str(int(i)) for i in members(self.cluster)) or "NULL"  # integers only: inlined
            parts.append(text(f"items.id IN ({ids})"))
        return and_(*parts) if parts else None

    def _category_parts(self, categories: Categories) -> list[ColumnElement[bool]]:
        from sqlalchemy import select

        from ..store.schema import ITEMS, LABELS

        parts: list[ColumnElement[bool]] = []
        by_facet: dict[str, list[int]] = {}
        for name in self.include:
            row = categories.get(name)
            by_facet.setdefault(row.facet, []).append(row.id)
        for facet, ids in by_facet.items():
            labelled = select(LABELS.c.item_id).where(LABELS.c.facet == facet, LABELS.c.category_id.in_(ids))
            parts.append(ITEMS.c.id.in_(labelled))
        if self.exclude:
            ids = [categories.get(name).id for name in self.exclude]
            parts.append(ITEMS.c.id.not_in(select(LABELS.c.item_id).where(LABELS.c.category_id.in_(ids))))
        return parts
