"""Module-level shortcuts over :class:`~clipsearch.front.index.Index`, for one call from a script.

    >>> from clipsearch import api
    >>> report = api.index(["~/Pictures"], index="photos", model="ViT-B-32-256")

Anything longer than one call reads better with the index held open (the CLI, the server and the
MCP server all do this):

    >>> from clipsearch import Index
    >>> with Index.open("photos") as ix:
    ...     hits = ix.search("a dog on a beach", k=5)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from .config import IndexLocation, ModelChoice, RuntimeChoice
from .front.index import Index, parse_item_ref
from .front.writer import EncoderLoader, ProgressFn

if TYPE_CHECKING:
    from .ingest.check import CheckReport
    from .ingest.options import IndexOptions, IndexReport
    from .ingest.watch import WatchSettings

__all__ = ["check", "embed", "index", "locate", "move_catalog", "parse_item_ref", "watch"]


def locate(index: str | None = None, home: str | os.PathLike[str] | None = None) -> IndexLocation:
    """Where index ``index`` lives under ``home`` (see :meth:`Index.locate`)."""
    return IndexLocation.resolve(index, home)


def index(
    paths: Iterable[str | os.PathLike[str]], *, index: str | None = None, home: str | os.PathLike[str] | None = None,
    model: str | ModelChoice | None = None, run: RuntimeChoice | None = None, options: IndexOptions | None = None,
    rebuild: bool = False, progress: ProgressFn | None = None, loader: EncoderLoader | None = None,
    text_progress: ProgressFn | None = None,
) -> IndexReport:  # fmt: skip
    """Create or update an index from image folders: :meth:`Index.create` then :meth:`Index.add`."""
    paths = list(paths)
    with Index.create(index, home, model=model, run=run, options=options, rebuild=rebuild, loader=loader,
                      roots=paths) as ix:  # fmt: skip
        return ix.add(paths, options=options, progress=progress, text_progress=text_progress)


def watch(
    paths: Iterable[str | os.PathLike[str]], *, index: str | None = None, home: str | os.PathLike[str] | None = None,
    model: str | ModelChoice | None = None, run: RuntimeChoice | None = None, options: IndexOptions | None = None,
    settings: WatchSettings | None = None, on_batch: Callable[[IndexReport], None] | None = None,
    stop: threading.Event | None = None, loader: EncoderLoader | None = None,
) -> None:  # fmt: skip
    """Index ``paths`` and keep the index current until ``stop`` is set (:meth:`Index.watch`)."""
    paths = list(paths)
    with Index.create(index, home, model=model, run=run, options=options, loader=loader, roots=paths) as ix:
        ix.watch(paths, options=options, settings=settings, on_batch=on_batch, stop=stop)


def check(
    *, index: str | None = None, home: str | os.PathLike[str] | None = None, repair: bool = False,
    deep: bool = False, device: str | None = None, loader: EncoderLoader | None = None,
) -> CheckReport:  # fmt: skip
    """Verify (and with ``repair``, mend) an index, even one whose catalog cannot open (:meth:`Index.verify`)."""
    return Index.verify(index, home, repair=repair, deep=deep, device=device, loader=loader)


def move_catalog(url: str, index: str | None = None, home: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """Move an index's SQLite catalog onto a PostgreSQL server (:meth:`Index.move_catalog`)."""
    with Index.open(index, home) as ix:
        return ix.move_catalog(url)


def embed(
    texts: Sequence[str] = (), images: Sequence[str] = (), *, index: str | None = None,
    home: str | os.PathLike[str] | None = None, model: str | ModelChoice | None = None,
    run: RuntimeChoice | None = None, loader: EncoderLoader | None = None, language: str | None = None,
) -> list[dict[str, object]]:  # fmt: skip
    """Unit vectors for ``texts`` and pictures by an index's model (:meth:`Index.embed`), or by ``model``."""
    from .front.embedding import embed_by_model
    from .front.refs import embeds_by_model

    if embeds_by_model(model, index):
        return embed_by_model(model, texts, images, run=run, loader=loader, language=language)  # type: ignore[arg-type]
    with Index.open(index, home, run=run, loader=loader, language=language) as ix:
        return ix.embed(texts, images)
