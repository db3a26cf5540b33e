"""Option groups the commands share, declared once: each adds its flags to a command and hands the
command one value built from them (a :class:`ModelChoice`, a :class:`RuntimeChoice`, the
:class:`IndexOptions` of a run, the filters of a query), so help texts cannot drift apart and no
command takes two dozen parameters.

Nothing here imports below the front door at load time: ``clipsearch search`` must start
embedding its query before SQLAlchemy loads (``Filters`` imports it only to build a condition).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..config import (
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_PAGES,
    OCR_MODES,
    PRECISION_CHOICES,
    REGION_GROUPS,
    REGIONS,
    RUNTIMES,
    SCOPES,
    ModelChoice,
    RuntimeChoice,
)
from ..front.index import OCR_ENGINES  # type: ignore[attr-defined]  # light: a tuple of names

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
#: ``--index`` and ``--home`` as given: the index's name and the folder of indexes.
Where = tuple[str | None, str | None]


def group(name: str, flags: Sequence[tuple[str, Decorator]], build: Callable[..., Any]) -> Decorator:
    """A decorator adding ``flags`` (``(parameter name, click.option(...))``) to a command and
    passing ``build(**their values)`` to it as the one parameter ``name``."""
    keys = [key for key, _ in flags]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = build(**{k: kwargs.pop(k) for k in keys})
            return f(*args, **kwargs)

        for _, option in reversed(flags):
            command = option(command)
        return command

    return decorate


def _pair(a: str | None, b: str | None) -> tuple[str | None, str | None]:
    return a, b


#: ``--index`` and ``--home``: which index, as ``where`` = (name, home).
location_options = group("where", [
    ("index_name", click.option("--index", "index_name", default=None,
                                help="Index name [default: $CLIPSEARCH_INDEX, else 'default'].")),
    ("home", click.option("--home", type=click.Path(file_okay=False),
                          help="Folder holding the indexes [default: $CLIPSEARCH_HOME, else the user data folder].")),
], lambda index_name, home: _pair(index_name, home))  # fmt: skip

#: ``--model`` and ``--pretrained``: a new index's model (an existing one keeps its own), as ``model``.
model_options = group("model", [
    ("model", click.option("--model", default=None, help="A preset (fast, multilingual, best), an open_clip "
                           "architecture, hf-hub:ORG/NAME, local-dir:FOLDER, a config JSON path, or tiny-shapes.")),
    ("pretrained", click.option("--pretrained", default=None,
                                help="open_clip tag, hf-hub: name, weights file, or 'none'.")),
], lambda model, pretrained: ModelChoice(model, pretrained))  # fmt: skip

#: ``--device``, ``--runtime`` and ``--precision``, as ``run``.
runtime_options = group("run", [
    ("device", click.option("--device", default=None, help="auto (default), cpu, cuda, mps [$CLIPSEARCH_DEVICE].")),
    ("runtime", click.option("--runtime", type=click.Choice(RUNTIMES), default=None,
                             help="auto: PyTorch on a GPU; on a CPU OpenVINO, or ONNX Runtime where OpenVINO is "
                                  "not installed [$CLIPSEARCH_RUNTIME].")),
    ("precision", click.option("--precision", type=click.Choice(PRECISION_CHOICES), default=None,
                               help="Image precision, remembered by the index: auto (a new index's default) is the "
                                    "fastest of fp32, bf16 (CPUs with AVX512_BF16/AMX) and int8 that keeps cosine "
                                    ">= 0.999 to fp32, measured once on this CPU; an existing index keeps its own.")),
], lambda device, runtime, precision: RuntimeChoice(runtime=runtime, precision=precision, device=device))  # fmt: skip


def _index_options(**values: Any) -> Any:
    from ..front import index as front

    values["exclude"], values["regions"] = tuple(values["exclude"]), tuple(values["regions"])
    return front.IndexOptions(include_hidden=values.pop("hidden"), ray=values.pop("ray_address"), **values)


#: What a run indexes and how, as ``options`` (an ``IndexOptions``).
index_options = group("options", [
    ("exclude", click.option("--exclude", multiple=True, metavar="GLOB",
                             help="Skip files or folders matching (repeatable).")),
    ("hidden", click.option("--hidden", is_flag=True, help="Include hidden files and folders.")),
    ("follow_links", click.option("--follow-links", is_flag=True,
                                  help="Index file symlinks that point outside the folders given (skipped by "
                                       "default).")),
    ("ocr", click.option("--ocr", type=click.Choice(OCR_MODES), default=None,
                         help="Read text in pictures and scanned pages, remembered by the index: auto (where a text "
                              "detector finds some; a new index's default), all, or none. PDF text layers are always "
                              "read [$CLIPSEARCH_OCR].")),
    ("ocr_engine", click.option("--ocr-engine", type=click.Choice(OCR_ENGINES), default=None,
                                help="What reads the text, remembered by the index: auto (a new index's default: "
                                     "RapidOCR's PP-OCR, with Tesseract reading again the lines in scripts PP-OCR "
                                     "lacks, such as Cyrillic, where installed), rapidocr alone, or tesseract alone "
                                     "(text pages; it misses many labels on drawings). Another engine than the "
                                     "index's reads every picture's text again.")),
    ("batch_size", click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))),
    ("workers", click.option("--workers", default=None, type=click.IntRange(min=1),
                             help="Decoding threads (default: cores).")),
    ("max_megapixels", click.option("--max-megapixels", default=DEFAULT_MAX_MEGAPIXELS, show_default=True,
                                    type=float)),
    ("max_pages", click.option("--max-pages", default=DEFAULT_MAX_PAGES, show_default=True,
                               type=click.IntRange(min=1), help="Index at most this many pages of each PDF.")),
    ("commit_every", click.option("--commit-every", default=256, show_default=True, type=click.IntRange(min=1),
                                  help="Items per catalog transaction (what an interruption can cost).")),
    ("file_timeout", click.option("--file-timeout", default=120.0, show_default=True,
                                  type=click.FloatRange(min=0.1),
                                  help="Seconds one file may take to decode before it is skipped with that reason.")),
    ("ocr_timeout", click.option("--ocr-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
                                 help="Seconds the text pass may spend on one picture; one that runs past it is "
                                      "tried again on the next runs (3 in all), then marked unreadable.")),
    ("regions", click.option("--region", "regions", multiple=True,
                             type=click.Choice(sorted([*REGIONS, *REGION_GROUPS])),
                             help="Also store a vector of this page region (title-block), or of each of 9 "
                                  "overlapping tiles (tiles: similar --box then finds details inside pages); "
                                  "remembered for later runs.")),
    ("region_scope", click.option("--region-scope", type=click.Choice(SCOPES), default=None,
                                  help="Pages that get regions [drawings].")),
    ("index_type", click.option("--index-type", default=None, metavar="auto|FACTORY",
                                help="Vector index: auto (exact below 100k, IVF+SQ8 above) or a FAISS factory "
                                     "string.")),
    ("ray_address", click.option("--ray", "ray_address", default=None, metavar="local|ADDRESS",
                                 envvar="CLIPSEARCH_RAY",
                                 help="Read, decode and embed on a Ray cluster: 'local' starts one sized to this "
                                      "machine; an address joins a running one. Every node must read the files at "
                                      "the same paths.")),
    ("catalog", click.option("--catalog", default=None, metavar="postgresql://USER@HOST/DB",
                             help="Keep a new index's catalog in PostgreSQL (default: $CLIPSEARCH_CATALOG, else "
                                  "SQLite in the index folder). The password comes from PGPASSWORD or ~/.pgpass, "
                                  "never stored.")),
], _index_options)  # fmt: skip


def _filter_option(spec: Any) -> Decorator:
    """``--KEY`` for one declared filter (``Filters.fields``)."""
    kind = click.IntRange(min=0) if spec.kind is int else click.Path() if spec.key == "under" else None
    return click.option(spec.flag, spec.name, multiple=spec.many, type=kind, metavar=spec.metavar, help=spec.help,
                        default=None)  # fmt: skip


def _filter_options() -> Decorator:
    """Categories and metadata a query keeps to, as ``filters`` (the library's ``Filters``): one
    option per declared filter, so a filter added there is an option here."""
    from ..front.index import Filters  # type: ignore[attr-defined]  # light: no SQLAlchemy until a query runs

    def build(**values: Any) -> Any:
        return Filters(**{k: tuple(v) if isinstance(v, tuple | list) else v for k, v in values.items()})

    return group("filters", [(spec.name, _filter_option(spec)) for spec in Filters.fields()], build)


filter_options = _filter_options()

PREVIEW_HELP = (
    "Draw each result in the terminal (kitty, iTerm2, sixel, or colour blocks; CLIPSEARCH_PREVIEW forces one)."
)


@dataclass(frozen=True, kw_only=True)
class Ranking:
    """How many results, from which score, with which terms added or taken away, and how shown."""

    top: int = 10
    offset: int = 0
    min_score: float | None = None
    add: tuple[str, ...] = ()
    sub: tuple[str, ...] = ()
    preview: bool = False
    as_json: bool = False
    #: a picture given as the query may be its own first result
    include_self: bool = False


#: ``-k``, ``--offset``, ``--min-score``, ``--add``, ``--sub``, ``--preview`` and ``--json``, as ``ranking``.
ranking_options = group("ranking", [
    ("top", click.option("-k", "--top", default=10, show_default=True, type=click.IntRange(min=1))),
    ("offset", click.option("--offset", default=0, type=click.IntRange(0, 10_000), metavar="N",
                            help="Skip the first N results: the next page of a listing.")),
    ("min_score", click.option("--min-score", type=float, default=None, help="Drop results below this cosine.")),
    ("add", click.option("--add", multiple=True, metavar="[W:]TEXT_OR_IMAGE", help="Add to the query.")),
    ("sub", click.option("--sub", multiple=True, metavar="[W:]TEXT_OR_IMAGE", help="Subtract from the query.")),
    ("preview", click.option("--preview", is_flag=True, help=PREVIEW_HELP)),
    ("as_json", click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")),
    ("include_self", click.option("--include-self", is_flag=True,
                                  help="A picture given as the query may be among its own results.")),
], lambda top, offset, min_score, add, sub, preview, as_json, include_self: Ranking(
    top=top, offset=offset, min_score=min_score, add=tuple(add), sub=tuple(sub), preview=preview, as_json=as_json,
    include_self=include_self))  # fmt: skip
