"""What a query may return: categories, and metadata (date taken, folder, place, camera, file type).

Filters become one SQL condition on ``items`` (:meth:`Filters.clause`), used inside the vector search
(as a FAISS ID selector over the ids it selects) and inside the full-text query, so a filtered query
returns every match there is, never a filtered top-k that came up short.

SQLAlchemy is imported only when a condition is built: a command builds its ``Filters`` from its
flags before the catalog is open, and a cold ``search`` must not wait for SQLAlchemy to do that.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
class FilterField:
    """How one filter is named and asked for on every surface: ``key`` in the search line
    (``key:VALUE``, when ``in_line``), as an HTTP parameter and an MCP argument, ``--key`` (``_``
    as ``-``) on the command line; ``many``: repeatable; ``kind``: ``str`` or ``int``."""

    name: str
    key: str
    help: str
    metavar: str = "TEXT"
    many: bool = False
    kind: type = str
    in_line: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


def _declared(key: str, help: str, **how: Any) -> Any:
    """A :class:`Filters` field with how every front end names and asks for it (``FilterField``)."""
    many = how.get("many", False)
    return field(default=() if many else None, metadata={"filter": {"key": key, "help": help, **how}})


@dataclass(frozen=True)
class Filters:
    """What a query keeps to, declared once: the command line's options, the search line's keys,
    the HTTP parameters and the MCP arguments are all made from these fields (:meth:`fields`).
    Categories match per facet (all facets named must match); dates are YYYY, YYYY-MM or
    YYYY-MM-DD; place and camera match a part of the name, in any case."""

    include: tuple[str, ...] = _declared("category", "Only items in NAME (repeatable).", metavar="NAME", many=True)
    exclude: tuple[str, ...] = _declared("not_category", "No items in NAME (repeatable); in the search line: "
                                         "-category:NAME.", metavar="NAME", many=True, in_line=False)  # fmt: skip
    after: str | None = _declared("after", "Taken on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD).", metavar="DATE")
    before: str | None = _declared("before", "Taken before DATE (YYYY, YYYY-MM or YYYY-MM-DD).", metavar="DATE")
    under: tuple[str, ...] = _declared("under", "Only files in this folder (repeatable).", metavar="FOLDER", many=True)
    place: str | None = _declared("place", "Taken at a place whose name contains NAME.", metavar="NAME")
    camera: str | None = _declared("camera", "Taken with a camera whose make/model contains TEXT.")
    types: tuple[str, ...] = _declared("type", "Only this file type (jpg, pdf...; repeatable).", metavar="EXT",
                                       many=True)  # fmt: skip
    cluster: int | None = _declared("cluster", "Only items of this group of the map (`clipsearch map`).",
                                    metavar="ID", kind=int, in_line=False)  # fmt: skip

    @classmethod
    def fields(cls) -> list[FilterField]:
        """Every filter, as the front ends name and ask for it."""
        return [FilterField(f.name, **f.metadata["filter"]) for f in dataclasses.fields(cls)]

    @classmethod
    def from_keys(cls, values: dict[str, Any]) -> Filters:
        """Filters from values named by their keys (``category``, ``type``, ...); a repeatable
        one takes a list, an empty or missing one is left out."""
        by_key = {f.key: f for f in cls.fields()}
        unknown = sorted(set(values) - set(by_key))
        if unknown:
            raise UsageError(f"no filter named {unknown[0]!r}: {', '.join(by_key)}")
        given = {by_key[k].name: tuple(v) if by_key[k].many else v for k, v in values.items() if v not in (None, "")}
        return cls(**{k: v for k, v in given.items() if v != ()})

    def joined(self, other: Filters) -> Filters:
        """Both filters at once: a repeatable field takes both sides' values, another ``other``'s
        where it has one (a line's ``after:`` over a flag's)."""
        values = {}
        for spec in self.fields():
            mine, theirs = getattr(self, spec.name), getattr(other, spec.name)
            values[spec.name] = mine + theirs if spec.many else (theirs if theirs is not None else mine)
        return Filters(**values)

    def require_absolute(self) -> Filters:
        """These filters, if their folders are absolute: to a client of a server, a folder relative
        to the server's working folder means nothing."""
        relative = [u for u in self.under if not os.path.isabs(os.path.expanduser(u))]
        if relative:
            raise UsageError(f"under takes absolute folder paths, not {relative[0]!r}")
        return self

    @property
    def active(self) -> bool:
        """Whether any filter is given (every declared field counts: a new one too)."""
        return any(getattr(self, f.name) not in (None, (), "") for f in dataclasses.fields(self))

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
