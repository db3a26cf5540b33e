"""``clipsearch category ...``: define, list, show and remove categories (thin, like all the CLI)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from .app import cli
from .options import Where, location_options


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
@location_options
@click.option("--json", "as_json", is_flag=True)
def category_add(
    name: str,
    facet: str,
    prompts: Sequence[str],
    examples: Sequence[str],
    threshold: float | None,
    device: str | None,
    where: Where,
    as_json: bool,
) -> None:
    """Define (or redefine) category NAME; every item is relabelled from stored vectors."""
    from ..front.index import Index

    with Index.open(*where, device=device) as ix:
        info = ix.categories.add(name, facet=facet, prompts=prompts, examples=examples, threshold=threshold)
    click.echo(json.dumps(info) if as_json else f"category {name!r} in facet {facet!r}: {info['items']} items")
    if "warning" in info and not as_json:
        click.echo(f"clipsearch: warning: {name!r} {info['warning']}", err=True)


@category_group.command("list")
@location_options
@click.option("--json", "as_json", is_flag=True)
def category_list(where: Where, as_json: bool) -> None:
    """Facets, the method each uses (zero-shot or probe), and their categories."""
    from ..front.index import Index

    with Index.open(*where) as ix:
        facets = ix.categories.list()
    if as_json:
        click.echo(json.dumps(facets))
        return
    for f in facets:
        acc = ""
        if f["zero_shot_accuracy"] is not None:
            acc = f" (on examples: zero-shot {f['zero_shot_accuracy']:.2f}"
            acc += f", probe {f['probe_accuracy']:.2f})" if f["probe_accuracy"] is not None else ")"
        alone = " (alone: each item against the background, 'something')" if f.get("alone") else ""
        click.echo(f"{f['name']}: {f['method']}{acc}{alone}")
        for c in f["categories"]:
            click.echo(
                f"  {c['name']:<24} {c['items']:>7} items  {c['examples']:>3} examples  {'; '.join(c['prompts'])}"
            )
            if "warning" in c:
                click.echo(f"    warning: {c['warning']}")


@category_group.command("show")
@click.argument("name")
@location_options
@click.option("--json", "as_json", is_flag=True)
def categoryshow(name: str, where: Where, as_json: bool) -> None:
    """One category: facet, method, prompts, examples, items labelled."""
    from ..front.index import Index

    with Index.open(*where) as ix:
        info = ix.categories.show(name)
    if as_json:
        click.echo(json.dumps(info))
        return
    for key in ("name", "facet", "method", "prompts", "threshold", "examples", "items"):
        click.echo(f"{key:>10}  {info[key]}")


@category_group.command("remove")
@click.argument("name")
@location_options
@click.option("--json", "as_json", is_flag=True)
def category_remove(name: str, where: Where, as_json: bool) -> None:
    """Delete category NAME; its facet is relabelled."""
    from ..front.index import Index

    with Index.open(*where) as ix:
        ix.categories.remove(name)
    click.echo(json.dumps({"removed": name}) if as_json else f"removed category {name!r}")
