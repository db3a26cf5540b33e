"""What the catalog knows of an item beyond its picture: its text and its metadata.

Extracted at index time (``ingest/metadata.py``, ``ingest/ocr.py``, PDF text layers) and written with
the item in the same transaction, so text, metadata and vector never disagree. ``None`` is unknown;
an empty text means "looked, found none".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from ..config import OCR_MODES
from .dialect import backend_of
from .schema import ITEMS, TEXTS

__all__ = ["EXTRAS_VERSION", "OCR_MODES", "Extras", "read", "weaker_modes", "write", "write_text"]

#: Bump when extraction changes: items extracted by an older version are filled in again by the
#: next index run (no re-embedding).
EXTRAS_VERSION = 1


@dataclass
class Extras:
    text: str | None = None
    text_source: str | None = None  # 'pdf' (text layer) or 'ocr'
    taken: str | None = None  # ISO local time, 'YYYY-MM-DDTHH:MM:SS'
    taken_source: str | None = None  # 'exif', 'pdf' or 'mtime'
    camera: str | None = None
    lat: float | None = None
    lon: float | None = None
    place: str | None = None
    file_type: str | None = None
    #: The strongest ``--ocr`` mode this item's text satisfies: 'none' until the text pass read it
    #: (``ingest/textpass.py``); 'all' where no OCR could add anything (a PDF text layer, a video frame).
    ocr_mode: str | None = None
    #: Why the text pass could not read it (kept, counted as read: not tried again for these bytes).
    text_error: str | None = None
    #: Where each OCR'd line stands: JSON ``[[x0, y0, x1, y1, line], ...]`` (``texts.boxes``).
    text_boxes: str | None = None

    def columns(self) -> dict[str, Any]:
        """The ``items`` columns this sets."""
        data = {k: v for k, v in asdict(self).items() if k not in ("text", "text_source", "text_boxes")}
        return {**data, "extras_version": EXTRAS_VERSION}


TEXT_FIELDS = ("text", "text_source", "ocr_mode", "text_error", "text_boxes")
METADATA_FIELDS = tuple(f.name for f in fields(Extras) if f.name not in TEXT_FIELDS)


def write(conn: Connection, item_id: int, extras: Extras) -> None:
    """Store ``extras`` for ``item_id``: its metadata columns, and its text (replaced, or removed)."""
    conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(**extras.columns()))
    conn.execute(delete(TEXTS).where(TEXTS.c.item_id == item_id))  # not REPLACE: it skips delete triggers
    body = (extras.text or "").strip()
    if body:
        conn.execute(
            TEXTS.insert(),
            [
                {
                    "item_id": item_id,
                    "source": extras.text_source or "ocr",
                    "body": body,
                    "boxes": extras.text_boxes,
                    "terms": backend_of(conn).terms(body),
                }
            ],
        )


def write_text(
    conn: Connection, item_id: int, text: str | None, mode: str | None, error: str | None = None,
    boxes: str | None = None,
) -> None:  # fmt: skip
    """What the text pass read of ``item_id`` under OCR ``mode`` (None: not done, still waiting);
    ``text`` '' or None: no text; ``error``: why it could not be read; ``boxes``: where each line
    stands, JSON. Its metadata stays as it is."""
    conn.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(ocr_mode=mode, text_error=error))
    conn.execute(delete(TEXTS).where(TEXTS.c.item_id == item_id))
    body = (text or "").strip()
    if body:
        conn.execute(TEXTS.insert(), [{"item_id": item_id, "source": "ocr", "body": body, "boxes": boxes,
                                       "terms": backend_of(conn).terms(body)}])  # fmt: skip


def weaker_modes(mode: str) -> tuple[str, ...]:
    """The OCR modes whose items an index in ``mode`` still has to read."""
    return OCR_MODES[: OCR_MODES.index(mode)] if mode in OCR_MODES else ()


def read(conn: Connection, ids: list[int]) -> dict[int, Extras]:
    """Metadata and text of ``ids`` (those that exist)."""
    cols = [ITEMS.c.id, ITEMS.c.ocr_mode, ITEMS.c.text_error, *(ITEMS.c[name] for name in METADATA_FIELDS)]
    out: dict[int, Extras] = {}
    for r in conn.execute(select(*cols).where(ITEMS.c.id.in_(ids))):
        out[r.id] = Extras(ocr_mode=r.ocr_mode, text_error=r.text_error,
                           **{name: getattr(r, name) for name in METADATA_FIELDS})  # fmt: skip
    for r in conn.execute(select(TEXTS).where(TEXTS.c.item_id.in_(ids))):
        out[r.item_id].text, out[r.item_id].text_source, out[r.item_id].text_boxes = r.body, r.source, r.boxes
    return out
