"""``clipsearch map``: the library drawn as a map of named groups (a table, JSON, or one HTML file)."""

from __future__ import annotations

import base64
import json
from importlib import resources
from typing import Any

import click

from .app import cli, show
from .options import Where, location_options

#: Thumbnails an HTML map carries inside it (each group's representative first, then a spread).
HTML_THUMBNAILS = 300


@cli.command("map")
@location_options
@click.option("--json", "as_json", is_flag=True, help="Print the map as JSON: groups, then every item's x, y, cluster.")
@click.option("--groups-only", is_flag=True, help="JSON without the items (the groups and how the map was drawn).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Also write the map as one HTML file.")
@click.option("--rebuild", is_flag=True, help="Draw the map anew instead of bringing the kept one up to date.")
@click.option(
    "--lang",
    "language",
    default="en",
    show_default=True,
    metavar="LANG",
    help="Name the groups in this language: en, de, es, fr, ru, zh (a multilingual model reads them).",
)
def map_cmd(where: Where, as_json: bool, groups_only: bool, html_file: str | None, rebuild: bool,
            language: str) -> None:  # fmt: skip
    """Draw the whole library as a map: similar pictures near each other, in named groups.

    The map is kept in the index and brought up to date as items come and go; `search --cluster ID`
    (and the web page's Map view) searches one group."""
    from ..front.index import Index
    from ..front.library_map import as_dict

    with Index.open(*where) as ix:
        library = ix.map(rebuild=rebuild, language=language)
        data = as_dict(ix, library, items=bool(html_file) or not groups_only)
        if html_file:
            _write_html(ix, data, html_file)
    if as_json:
        if groups_only:
            data.pop("items", None)
        click.echo(json.dumps(data))
        return
    click.echo(f"{data['count']} items, {len(data['clusters'])} groups ({data['unclustered']} in none); "
               f"drawn by {data['method']}")  # fmt: skip
    if data["clusters"]:
        click.echo(f"{'group':>5}  {'size':>6}  {'named':<40}  example")
    for c in sorted(data["clusters"], key=lambda c: -c["size"]):
        click.echo(f"{c['id']:>5}  {c['size']:>6}  {c['label'][:40]:<40}  {show(c['representative']['path'])}")
    if html_file:
        click.echo(f"map written to {show(html_file)}", err=True)


def _write_html(ix: Any, data: dict[str, Any], target: str) -> None:
    """One file that draws the map offline: the data, the web page's map script, and thumbnails."""
    from ..errors import ClipsearchError

    items = data.get("items", [])
    chosen = [c["representative"]["id"] for c in data["clusters"]]
    step = max(1, len(items) // HTML_THUMBNAILS)
    chosen += [it["id"] for it in items[::step]]
    thumbs: dict[int, str] = {}
    for item_id in dict.fromkeys(chosen):
        if len(thumbs) >= HTML_THUMBNAILS:
            break
        try:
            picture = ix.files.thumbnail(ix.files.item(item_id))
            thumbs[item_id] = "data:image/webp;base64," + base64.b64encode(picture).decode()
        except (ClipsearchError, OSError):  # a file gone or changed since: its point stays, without a picture
            continue
    script = resources.files("clipsearch.server").joinpath("static", "map.js").read_text(encoding="utf-8")
    payload = json.dumps({"map": data, "thumbs": thumbs}).replace("</", "<\\/")
    html = _PAGE.replace("__SCRIPT__", script).replace("__DATA__", payload)
    with open(target, "w", encoding="utf-8") as f:
        f.write(html)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clipsearch map</title>
<style>body{margin:0;font:14px system-ui,sans-serif}#map{width:100vw;height:100vh;display:block}
#info{position:fixed;left:8px;top:8px;background:#fffd;padding:4px 8px;border-radius:4px}</style></head>
<body><canvas id="map"></canvas><div id="info"></div>
<script>__SCRIPT__</script>
<script>
const payload = __DATA__;
const m = payload.map;
const say = (text) => { document.getElementById("info").textContent = text; };
say(`${m.count} items, ${m.clusters.length} groups - scroll to zoom, drag to pan, click a group or an item`);
clipMap(document.getElementById("map"), m, {
  thumbnail: (id) => payload.thumbs[id] || null,
  onCluster: (c) => { say(`group ${c.id}: ${c.phrases.join(", ")} (${c.size} items)`); },
  onItem: (it) => { say(it.path); },
});
</script></body></html>
"""
