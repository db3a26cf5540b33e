"""``clipsearch category ...``: define, list, show and remove categories (thin, like all the CLI)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from .app import cli, index_options


@cli.group("category")
def category_group() -> None:
    """Zero-shot and few-shot categories, grouped in facets; used by --category filters."""


@category_group.command("add")
@click.argument("name")
@click.option("--facet", default="subject", show_default=True, help="Facet (group of rival categories).")
@click.option("--prompt", "prompts", multiple=True, help="Text describing the category (repeatable).")
@click.option("--example", "examples", multiple=True, metavar="IMAGE", help="Example image, or file.pdf#page=N.")
@click.option("--threshold", type=float, default=None, help="Minimum probability to carry this label.")
@click.option("--device", default=None)
@index_options
@click.option("--json", "as_json", is_flag=True)
def category_add(
    name: str,
    facet: str,
    prompts: Sequence[str],
    examples: Sequence[str],
    threshold: float | None,
    device: str | None,
    index_name: str | None,
    home: str | None,
    as_json: bool,
) -> None:
    """Define (or redefine) category NAME; every item is relabelled from stored vectors."""
    from .. import api

    with api.open_index(index_name, home) as store:
        api.add_category(
            store, name, facet=facet, prompts=prompts, examples=examples, threshold=threshold, device=device
        )
        info = _category_info(store, name)
    click.echo(json.dumps(info) if as_json else f"category {name!r} in facet {facet!r}: {info['items']} items")


def _category_info(store: Any, name: str) -> dict[str, Any]:
    from ..query.categories import Categories

    for facet in Categories(store).describe():
        for cat in facet["categories"]:
            if cat["name"] == name:
                return {**cat, "facet": facet["name"], "method": facet["method"]}
    Categories(store).get(name)  # raises with the known names
    raise AssertionError("unreachable")


@category_group.command("list")
@index_options
@click.option("--json", "as_json", is_flag=True)
def category_list(index_name: str | None, home: str | None, as_json: bool) -> None:
    """Facets, the method each uses (zero-shot or probe), and their categories."""
    from .. import api
    from ..query.categories import Categories

    with api.open_index(index_name, home) as store:
        facets = Categories(store).describe()
    if as_json:
        click.echo(json.dumps(facets))
        return
    for f in facets:
        acc = ""
        if f["zero_shot_accuracy"] is not None:
            acc = f" (on examples: zero-shot {f['zero_shot_accuracy']:.2f}"
            acc += f", probe {f['probe_accuracy']:.2f})" if f["probe_accuracy"] is not None else ")"
        click.echo(f"{f['name']}: {f['method']}{acc}")
        for c in f["categories"]:
            click.echo(
                f"  {c['name']:<24} {c['items']:>7} items  {c['examples']:>3} examples  {'; '.join(c['prompts'])}"
            )


@category_group.command("show")
@click.argument("name")
@index_options
@click.option("--json", "as_json", is_flag=True)
def categoryshow(name: str, index_name: str | None, home: str | None, as_json: bool) -> None:
    """One category: facet, method, prompts, examples, items labelled."""
    from .. import api

    with api.open_index(index_name, home) as store:
        info = _category_info(store, name)
    if as_json:
        click.echo(json.dumps(info))
        return
    for key in ("name", "facet", "method", "prompts", "threshold", "examples", "items"):
        click.echo(f"{key:>10}  {info[key]}")


@category_group.command("remove")
@click.argument("name")
@index_options
@click.option("--json", "as_json", is_flag=True)
def category_remove(name: str, index_name: str | None, home: str | None, as_json: bool) -> None:
    """Delete category NAME; its facet is relabelled."""
    from .. import api
    from ..query.categories import Categories

    with api.open_index(index_name, home) as store:
        store.acquire_lock()
        Categories(store).remove(name)
    click.echo(json.dumps({"removed": name}) if as_json else f"removed category {name!r}")
