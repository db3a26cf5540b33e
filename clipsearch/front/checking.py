"""``check``: verify that catalog, vector index and files agree, and repair what is wrong.

Works on an index's location, not an open index: a damaged catalog may not open at all.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import IndexLocation, RuntimeChoice
from ..errors import CatalogDamagedError
from .writer import EncoderLoader, query_encoder_loader

Reindex = Callable[[list[str]], "IndexReport"]

if TYPE_CHECKING:
    from ..ingest.check import CheckReport
    from ..ingest.options import IndexReport


def check_at(
    location: IndexLocation, *, repair: bool = False, deep: bool = False, device: str | None = None,
    loader: EncoderLoader | None = None, reindex: Reindex | None = None,
) -> CheckReport:  # fmt: skip
    """Verify the index at ``location`` (``deep``: every item, SQLite's full integrity check); with
    ``repair``, rebuild what is wrong from what is sound.

    A damaged SQLite catalog is salvaged row by row (``store/salvage.py``), the FAISS index is
    rebuilt from it, and the folders the index remembers are indexed again, so items whose rows
    were lost come back from their files (by ``reindex``); ``salvaged`` in the report says what
    could not be kept."""
    from ..ingest.check import CheckReport
    from ..store.folder import IndexStore

    salvaged: dict[str, object] = {}
    try:
        report = _check_open(location, repair, deep, device, loader)
    except CatalogDamagedError as err:
        if not repair:
            return CheckReport(ok=False, catalog_problems=[str(err)], deep=deep)
        report = None
    if report is not None and (not report.catalog_problems or not repair):
        return report
    from ..store.salvage import salvage_catalog

    salvaged = dataclasses.asdict(salvage_catalog(location))
    _check_open(location, repair, deep, device, loader)
    with IndexStore.open(location) as store:
        roots = [r for r in store.roots if os.path.exists(r)]
    if roots and reindex is not None:
        again = reindex(roots)
        salvaged["indexed_again"] = {"embedded": again.embedded, "removed": again.removed}
    report = _check_open(location, False, deep, device, loader)
    report.salvaged = salvaged
    return report


def _check_open(
    location: IndexLocation, repair: bool, deep: bool, device: str | None, loader: EncoderLoader | None
) -> CheckReport:
    from ..ingest.check import check_index, repair_index
    from ..store.folder import IndexStore

    with IndexStore.open(location) as store:
        if repair:
            store.acquire_lock()
        report = check_index(store, deep)
        if repair and not report.ok and not report.catalog_problems:
            report = repair_index(store, report, query_encoder_loader(store, RuntimeChoice(device=device), loader))
    return report


def reindexer(location: IndexLocation, loader: EncoderLoader | None, create: Callable[..., Any]) -> Reindex:
    """How a repair indexes the remembered folders again after a salvage: ``create`` (``Index.create``)
    opens the index, its ``add`` indexes them."""

    def again(roots: list[str]) -> IndexReport:
        with create(location.name, location.home, loader=loader) as ix:
            return ix.add(roots)  # type: ignore[no-any-return]

    return again
