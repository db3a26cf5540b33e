"""``clipsearch embed``: the vectors themselves, for pipelines and for checking a model."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from ..config import PRECISION_CHOICES, RUNTIMES
from .app import cli, index_options, show


@cli.command("embed")
@click.option("--text", "texts", multiple=True, metavar="TEXT", help="A text to embed (repeatable).")
@click.option("--image", "images", multiple=True, metavar="PATH",
              help="A picture to embed (repeatable): a file, file.pdf#page=N or clip.mp4#t=SECONDS.")  # fmt: skip
@index_options
@click.option("--model", default=None, help="Embed with this model instead of the index's (as for index).")
@click.option("--pretrained", default=None, help="Weights for --model (as for index).")
@click.option("--runtime", type=click.Choice(RUNTIMES), default=None, envvar="CLIPSEARCH_RUNTIME")
@click.option("--precision", type=click.Choice(PRECISION_CHOICES), default=None, help="[the index's, else fp32]")
@click.option("--device", default=None, help="auto, cpu, cuda, mps.")
@click.option("--lang", default=None, metavar="CODE", help="Language of the texts (ru, zh, rus_Cyrl) for models that "
              "take one (NLLB); default: detected per text.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of {text|path, vector}.")
def embed_cmd(
    texts: Sequence[str],
    images: Sequence[str],
    index_name: str | None,
    home: str | None,
    model: str | None,
    pretrained: str | None,
    runtime: str | None,
    precision: str | None,
    device: str | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """Print unit vectors for texts and pictures, as the index's model (or --model) makes them."""
    from .. import api
    from ..config import ModelChoice, RuntimeChoice
    from ..query.search import display_path

    choice = ModelChoice(model, pretrained) if model or pretrained else None
    run = RuntimeChoice(runtime=runtime, precision=precision, device=device)
    vectors = api.embed(texts, images, index=index_name, home=home, model=choice, run=run, language=lang)
    if as_json:
        click.echo(json.dumps(vectors))
        return
    for entry in vectors:
        name = entry.get("text") or show(display_path(str(entry["path"]), int(entry.get("page", 0)), entry.get("time")))
        vector = entry["vector"]
        head = ", ".join(f"{x:+.4f}" for x in vector[:6])  # type: ignore[index]
        click.echo(f"{len(vector)}-dim  [{head}, ...]  {name}")  # type: ignore[arg-type]
