"""`clipsearch map`: the library laid out in 2-D, grouped and named, kept up to date, and searchable
by group; on shapes drawn by other code than the model was trained on (``demo_shapes``)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from clipsearch.models.demo_shapes import generate_folder
from tests.conftest import Cli


def _label(path: str) -> tuple[str, str]:
    colour, shape, _ = Path(path).stem.split("_")
    return colour, shape


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """An index of 6 colours x 5 shapes x 4 pictures, and its map."""
    root = tmp_path_factory.mktemp("map")
    folder = root / "shapes"
    generate_folder(folder, per_class=4, seed=3)
    cli = Cli(root / "home")
    cli.json("index", str(folder), "--model", "tiny-shapes")
    return cli, folder, cli.json("map", "--json")


def test_groups_are_pure_and_named_after_what_they_hold(mapped):
    _, _, data = mapped
    items = data["items"]
    assert data["count"] == len(items) == 120 and data["method"] == "umap"
    assert all(0 <= it["x"] <= 1 and 0 <= it["y"] <= 1 for it in items)
    by_group: dict[int, list[tuple[str, str]]] = {}
    for it in items:
        by_group.setdefault(it["cluster"], []).append(_label(it["path"]))
    grouped = {g: labels for g, labels in by_group.items() if g >= 0}
    assert len(grouped) >= 4 and sum(len(v) for v in grouped.values()) >= 0.8 * len(items)
    pure = named = 0
    for cluster in data["clusters"]:
        labels = grouped[cluster["id"]]
        assert cluster["size"] == len(labels)
        colour, n_colour = Counter(c for c, _ in labels).most_common(1)[0]
        shape, n_shape = Counter(s for _, s in labels).most_common(1)[0]
        pure += max(n_colour, n_shape)
        words = " ".join(cluster["phrases"][:2])
        named += (colour in words and n_colour >= n_shape) or (shape in words and n_shape >= n_colour)
        rep = next(it for it in items if it["id"] == cluster["representative"]["id"])
        assert rep["cluster"] == cluster["id"]
    purity = pure / sum(len(v) for v in grouped.values())
    print(f"map purity (majority colour or shape per group): {purity:.3f}; "
          f"groups named after their majority: {named}/{len(data['clusters'])}")  # fmt: skip
    assert purity >= 0.8
    assert named >= 0.75 * len(data["clusters"])


def test_the_map_is_kept_and_brought_up_to_date_not_redrawn(mapped, tmp_path):
    cli, folder, first = mapped
    again = cli.json("map", "--json")
    assert again == first  # nothing changed: the kept map, as it was
    new = tmp_path / "new"
    generate_folder(new, per_class=1, seed=99)  # one more of each colour x shape
    stars = [p for p in new.iterdir() if p.stem.startswith("blue_star")]
    for p in new.iterdir():
        if p not in stars:
            p.unlink()
    added = folder / "added"
    added.mkdir()
    for p in stars:
        shutil.copy(p, added / p.name)
    gone = next(p for p in folder.iterdir() if p.name.startswith("red_circle"))
    gone.unlink()
    cli.json("index", str(folder))
    updated = cli.json("map", "--json")
    assert updated["count"] == 120 and updated["method"] == first["method"]
    assert updated["placed_by_neighbours"] == 1
    place = {it["path"]: it for it in updated["items"]}
    assert str(gone) not in place
    star = place[str(added / stars[0].name)]
    kin = [it for it in first["items"] if _label(it["path"]) == ("blue", "star")]
    # placed among its kind: in a group that holds blue stars, nearer them than the map's average item
    assert star["cluster"] in {it["cluster"] for it in kin}
    cx, cy = sum(it["x"] for it in kin) / len(kin), sum(it["y"] for it in kin) / len(kin)
    spread = sum(((it["x"] - cx) ** 2 + (it["y"] - cy) ** 2) ** 0.5 for it in first["items"]) / len(first["items"])
    assert ((star["x"] - cx) ** 2 + (star["y"] - cy) ** 2) ** 0.5 < spread


def test_groups_named_in_another_language_keep_their_places(mapped):
    cli, _, _ = mapped
    english = cli.json("map", "--json")
    russian = cli.json("map", "--json", "--lang", "ru")
    assert [(i["id"], i["x"], i["y"], i["cluster"]) for i in russian["items"]] == [
        (i["id"], i["x"], i["y"], i["cluster"]) for i in english["items"]
    ]  # the same map, named again
    from clipsearch.query.naming import vocabulary

    names = {row["name"] for facet in cli.json("category", "list") for row in facet["categories"]}
    phrases = [p for c in russian["clusters"] for p in c["phrases"]]
    assert set(phrases) <= set(vocabulary("ru")) | names  # Russian words, and the index's own categories
    assert any(p in vocabulary("ru") for p in phrases)
    english = {p for c in english["clusters"] for p in c["phrases"]} - names
    assert english and not english & set(phrases)  # none of the English names are left
    unknown = cli("map", "--lang", "xx", ok=False)
    assert unknown.exit_code == 2 and "no map vocabulary in 'xx'" in unknown.stderr


def test_search_by_group_returns_that_group_only(mapped):
    cli, _, data = mapped
    group = max(data["clusters"], key=lambda c: c["size"])
    inside = {it["id"] for it in cli.json("map", "--json")["items"] if it["cluster"] == group["id"]}
    hits = cli.json("search", "a shape", "--cluster", str(group["id"]), "-k", "500")
    assert hits and {h["id"] for h in hits} <= inside
    newest = cli.json("search", "--cluster", str(group["id"]), "-k", "500")  # no query: the group, newest first
    assert {h["id"] for h in newest} == inside
    missing = cli("search", "a shape", "--cluster", "999", ok=False)
    assert missing.exit_code == 2 and "no group 999" in missing.stderr


def test_html_map_is_one_file_with_its_pictures(mapped, tmp_path):
    cli, _, data = mapped
    target = tmp_path / "map.html"
    table = cli("map", "--html", str(target)).stdout
    assert f"{data['count']} items" in table and "group" in table
    html = target.read_text(encoding="utf-8")
    assert "clipMap(" in html and html.count("data:image/webp;base64,") >= len(data["clusters"])
    payload = json.loads(html.split("const payload = ", 1)[1].split(";\nconst m", 1)[0])
    assert len(payload["map"]["items"]) == data["count"]


def test_an_empty_index_and_a_single_item_make_trivial_maps(tmp_path):
    cli = Cli(tmp_path / "home")
    folder = tmp_path / "one"
    folder.mkdir()
    cli.json("index", str(folder), "--model", "tiny-shapes")
    empty = cli.json("map", "--json")
    assert empty["count"] == 0 and empty["clusters"] == [] and empty["items"] == [] and empty["method"] == "empty"
    generate_folder(folder, per_class=1, seed=1)
    for p in sorted(folder.iterdir())[1:]:
        p.unlink()
    cli.json("index", str(folder))
    single = cli.json("map", "--json")
    assert single["count"] == 1 and single["method"] == "single" and single["items"][0]["x"] == 0.5


@pytest.mark.parametrize("damage", ["truncated", "json-list", "unknown-keys", "flat-coordinates", "nan", "torn"])
def test_a_damaged_or_torn_map_is_drawn_anew_not_a_traceback(mapped, tmp_path, damage):
    """A map whose files were damaged, or were written by two different runs (a crash between the
    arrays and the names), is never used: `map` draws it anew and answers as usual."""
    import numpy as np

    from clipsearch.query.maps import MAP_ARRAYS, MAP_META, cached

    cli, _, data = mapped
    home = tmp_path / "home"
    shutil.copytree(cli.home, home)
    folder = home / "default"
    assert cached(folder) is not None
    arrays, meta = folder / MAP_ARRAYS, folder / MAP_META
    if damage == "truncated":
        arrays.write_bytes(arrays.read_bytes()[:100])
    elif damage == "json-list":
        meta.write_text("[]", encoding="utf-8")
    elif damage == "unknown-keys":
        written = json.loads(meta.read_text(encoding="utf-8"))
        written["clusters"] = [{"what": 1}]
        meta.write_text(json.dumps(written), encoding="utf-8")
    else:
        with np.load(arrays) as old:
            kept = {k: old[k] for k in old.files}
        if damage == "flat-coordinates":
            kept["xy"] = kept["xy"][:, 0]
        elif damage == "nan":
            kept["xy"] = np.full_like(kept["xy"], np.nan)
        else:  # torn: the arrays of another write beside these names
            kept["written"] = np.array("0123456789abcdef")
        with open(arrays, "wb") as f:
            np.savez(f, **kept)
    assert cached(folder) is None
    again = Cli(home).json("map", "--json")
    assert again["count"] == data["count"] and again["clusters"] and cached(folder) is not None


def test_searches_go_on_while_a_map_is_drawn(mapped, tmp_path, monkeypatch):
    """A redraw (41 s on 6,000 items) holds no lock that searches or other map readers need: they
    answer at once, the readers with the last map, while the new one is still being laid out."""
    import threading

    from clipsearch.front.index import Index
    from clipsearch.query import maps

    cli, _, data = mapped
    home = tmp_path / "home"
    shutil.copytree(cli.home, home)
    drawing, release = threading.Event(), threading.Event()
    layout = maps.umap_layout

    def slow_layout(vectors):  # the layout step, held until the readers have been answered
        drawing.set()
        assert release.wait(60)
        return layout(vectors)

    monkeypatch.setattr(maps, "umap_layout", slow_layout)
    with Index.open(None, home) as ix:
        redraw = threading.Thread(target=ix.map, kwargs={"rebuild": True})
        redraw.start()
        try:
            assert drawing.wait(60)
            hits = ix.search("a red circle", k=3)
            shown = ix.map()
            assert redraw.is_alive()  # both answered while the drawing was still under way
        finally:
            release.set()
            redraw.join(60)
    assert len(hits) == 3 and "red" in hits[0].path
    assert len(shown.ids) == data["count"] and len(shown.clusters) == len(data["clusters"])
