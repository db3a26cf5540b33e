"""``clipsearch embed``: the vectors themselves, for pipelines and for checking a model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from .app import cli, show
from .options import Where, location_options, model_options, runtime_options

if TYPE_CHECKING:
    from ..config import ModelChoice, RuntimeChoice


@cli.command("embed")
@click.option("--text", "texts", multiple=True, metavar="TEXT", help="A text to embed (repeatable).")
@click.option("--image", "images", multiple=True, metavar="PATH",
              help="A picture to embed (repeatable): a file, file.pdf#page=N or clip.mp4#t=SECONDS.")  # fmt: skip
@location_options
@model_options
@runtime_options
@click.option("--lang", default=None, metavar="CODE", help="Language of the texts (ru, zh, rus_Cyrl) for models that "
              "take one (NLLB); default: detected per text.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of {text|path, vector}.")
def embed_cmd(texts: Sequence[str], images: Sequence[str], where: Where, model: ModelChoice, run: RuntimeChoice,
              lang: str | None, as_json: bool) -> None:  # fmt: skip
    """Print unit vectors for texts and pictures, as the index's model (or --model) makes them.

    --model and --pretrained name another model to embed with (no index needed); --precision is
    the index's by default, else fp32."""
    from ..front import index as front

    if front.embeds_by_model(model, where[0]):  # flags, or $CLIPSEARCH_MODEL where no index is named
        vectors = front.embed_by_model(model, texts, images, run=run, language=lang)
    else:
        with front.Index.open(*where, run=run, language=lang) as ix:
            vectors = ix.embed(texts, images)
    if as_json:
        click.echo(json.dumps(vectors))
        return
    for entry in vectors:
        name = entry.get("text") or show(
            front.display_path(str(entry["path"]), int(entry.get("page", 0)), entry.get("time"))  # type: ignore[arg-type]
        )
        vector = entry["vector"]
        head = ", ".join(f"{x:+.4f}" for x in vector[:6])  # type: ignore[index]
        click.echo(f"{len(vector)}-dim  [{head}, ...]  {name}")  # type: ignore[arg-type]
