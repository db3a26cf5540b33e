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
        writer.writerow(["group", "tier", "path", "page", "keeper", "evidence", "distance", "width", "height", "size"])
        for g in groups:
            for m in g.members:
                distance = "" if m.distance is None else m.distance
                row = [g.key, g.tier, m.item.path, m.item.page or "", int(m.keeper), m.tier, distance]
                writer.writerow([*row, m.item.width, m.item.height, m.item.size])


def write_html(path: str, groups: Sequence[Group]) -> None:
    """Groups side by side with thumbnails (file:// links; open it on the machine that has the files)."""
    from html import escape
    from urllib.parse import quote

    parts = ["<!doctype html><meta charset=utf-8><title>clipsearch duplicates</title>",
             "<style>body{font:14px sans-serif}.g{display:flex;gap:12px;margin:16px 0;flex-wrap:wrap}"
             ".m{width:220px}.m img{max-width:220px;max-height:220px}.keep{outline:3px solid #2a2}</style>",
             f"<h1>{len(groups)} duplicate groups</h1>"]  # fmt: skip
    for g in groups:
        parts.append(f"<h2>group {escape(g.key)} ({escape(g.tier)})</h2><div class=g>")
        for m in g.members:
            img = "" if m.item.page else f"<img src='file://{quote(m.item.path)}'>"
            evidence = "centre" if m.tier == "centre" else f"{m.tier} {m.distance:g}"
            parts.append(f"<div class='m{' keep' if m.keeper else ''}'>{img}<br>{escape(display(m.item))}"
                         f"<br>{escape(evidence)}{' — keeper' if m.keeper else ''}</div>")  # fmt: skip
        parts.append("</div>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
