"""Duplicate reports as files: CSV for scripts and spreadsheets, HTML to look at the groups."""

from __future__ import annotations

from collections.abc import Sequence

from ..store.catalog import ItemRow
from .duplicates import Group
from .search import display_path


def display(row: ItemRow) -> str:
    return display_path(row.path, row.page, row.time)


def write_csv(path: str, groups: Sequence[Group]) -> None:
    """One row per group member, for spreadsheets and scripts."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["group", "tier", "path", "page", "keeper", "evidence", "distance", "width", "height", "size",
                         "changes"])  # fmt: skip
        for g in groups:
            for m in g.members:
                distance = "" if m.distance is None else m.distance
                row = [g.key, g.tier, m.item.path, m.item.page or "", int(m.keeper), m.tier, distance]
                changes = "; ".join(f"{c['from']} -> {c['to']}" for c in m.changes)
                writer.writerow([*row, m.item.width, m.item.height, m.item.size, changes])


_STYLE = (
    "body{font:14px sans-serif;margin:16px}.g{display:flex;gap:12px;margin:8px 0 24px;flex-wrap:wrap}"
    ".m{width:240px;overflow-wrap:anywhere;border:1px solid #ccc;padding:4px}"
    ".pic{position:relative;display:inline-block}.pic img{max-width:240px;max-height:240px;"
    "display:block}.keep{outline:3px solid #2a2}.box{position:absolute;border:2px solid #e22}"
    ".ch{color:#a00}.ch b{color:#060}h2 small{font-weight:normal;color:#555}"
)
_SAYS = {
    "revision": "the same page with different words: revisions, not copies (never moved as copies); "
    "each shows what it says where the newest says otherwise",
    "document": "the same document saved again: every page a copy, in order",
}


def write_html(path: str, groups: Sequence[Group], thumbnails: bool = True) -> None:
    """Groups side by side with their pictures (embedded, so the report opens anywhere: PDF pages
    and video frames too) and a link to each file; a revision shows the words that differ from
    the keeper, and where OCR found them, boxed on both pictures."""
    from html import escape

    parts = ["<!doctype html><meta charset=utf-8><title>clipsearch duplicates</title>", f"<style>{_STYLE}</style>",
             f"<h1>{len(groups)} groups</h1>"]  # fmt: skip
    for g in groups:
        says = _SAYS.get(g.tier, "copies of one picture")
        parts.append(f"<h2>group {escape(g.key)} ({escape(g.tier)}) <small>{escape(says)}</small></h2><div class=g>")
        lead_boxes = [c["to_box"] for m in g.members for c in m.changes if c.get("to_box")]
        for m in g.members:
            boxes = lead_boxes if m.keeper else [c["from_box"] for c in m.changes if c.get("from_box")]
            picture = _picture(m.item, boxes) if thumbnails else ""
            lead = "newest revision" if g.tier == "revision" else "keeper"
            evidence = lead if m.tier == "centre" else f"{m.tier} {m.distance:g}"
            changes = "".join(
                f"<div class=ch>{escape(c['from'])} &rarr; <b>{escape(c['to'])}</b></div>" for c in m.changes
            )
            link = f"<a href='{escape(_file_url(m.item.path), quote=True)}'>{escape(display(m.item))}</a>"
            parts.append(f"<div class='m{' keep' if m.keeper else ''}'>{picture}<br>{link}"
                         f"<br>{escape(evidence)}{changes}</div>")  # fmt: skip
        parts.append("</div>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def _file_url(path: str) -> str:
    from pathlib import Path

    return Path(path).as_uri() if Path(path).is_absolute() else path


def _picture(row: ItemRow, boxes: Sequence[Sequence[float]]) -> str:
    """The item's picture as an embedded JPEG, with ``boxes`` (fractions of it) drawn over it."""
    import base64
    import io

    from ..errors import ClipsearchError
    from ..ingest.picture import item_picture

    try:
        image = item_picture(row.path, row.page, row.time, 240)
    except (ClipsearchError, OSError, ValueError):
        return "<div class=pic>(picture unreadable)</div>"
    image.thumbnail((240, 240))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=80)
    marks = "".join(
        f"<div class=box style='left:{100 * b[0]:.1f}%;top:{100 * b[1]:.1f}%;"
        f"width:{100 * (b[2] - b[0]):.1f}%;height:{100 * (b[3] - b[1]):.1f}%'></div>"
        for b in boxes
    )
    data = base64.b64encode(buf.getvalue()).decode()
    return f"<div class=pic><img src='data:image/jpeg;base64,{data}' alt=''>{marks}</div>"
