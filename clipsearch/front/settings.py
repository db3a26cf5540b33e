"""What an index remembers of how it is built, resolved in one place: what the user asked for,
else what the index remembers, else the default.

An index keeps its settings in two places for a reason: the model, precision and vector index
type in the manifest (read before any catalog opens: a cold query needs them first), OCR and
regions in the catalog's meta table (they travel with the catalog to PostgreSQL). Only this
module reads or writes either, so the default precision or OCR mode is decided once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import OCR_MODES, SCOPES, RuntimeChoice, setting
from ..errors import ClipsearchError, UsageError

if TYPE_CHECKING:
    from ..ingest.options import IndexOptions
    from ..models.encoder import EncoderHandle
    from ..store.folder import IndexStore

#: The OCR mode asked for by the environment, as ``--ocr`` would (the CLI's flag reads it too).
#: A new index reads text unless told not to; an index from before OCR existed keeps 'none'
#: until asked (reading a whole library is not a surprise).
NEW_INDEX_OCR = "auto"
OLD_INDEX_OCR = "none"
#: Images are embedded at fp32 unless the index says otherwise; a new index lets the planner choose.
REMEMBERED_PRECISION = "fp32"
NEW_INDEX_PRECISION = "auto"


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """How one run builds the index (see the module docstring for where each one is kept)."""

    #: 'fp32', 'bf16', 'int8', or 'auto' for a new index (the planner's choice, then remembered)
    precision: str
    runtime: str | None
    ocr: str
    #: what reads the text (``--ocr-engine``): 'auto', 'rapidocr' or 'tesseract'
    ocr_engine: str
    regions: tuple[str, ...]
    region_scope: str
    #: 'auto' or a FAISS factory string (``sharded:`` and an IVF one)
    index_type: str

    @classmethod
    def for_new(cls, run: RuntimeChoice, options: IndexOptions) -> IndexSettings:
        from ..ingest.regions import validate as validate_regions

        ocr = options.ocr or setting("ocr") or NEW_INDEX_OCR
        return cls(
            precision=run.precision or NEW_INDEX_PRECISION, runtime=run.runtime, ocr=_ocr(ocr),
            ocr_engine=_engine_named(options.ocr_engine or "auto"),
            regions=validate_regions(options.regions), region_scope=_scope(options.region_scope or "drawings"),
            index_type=validate_index_type(options.index_type or "auto"),
        )  # fmt: skip

    @classmethod
    def of(
        cls, store: IndexStore, run: RuntimeChoice | None = None, options: IndexOptions | None = None
    ) -> IndexSettings:
        """What ``store`` runs with now: each setting as asked in ``run``/``options``, else remembered."""
        from ..ingest.options import IndexOptions
        from ..ingest.regions import validate as validate_regions

        run, options = run or RuntimeChoice(), options or IndexOptions()
        remembered = json.loads(store.catalog.get_meta("regions") or "{}")
        asked_type = options.index_type and validate_index_type(options.index_type)
        return cls(
            precision=run.precision or precision_of(store), runtime=run.runtime,
            ocr=_ocr(options.ocr or setting("ocr") or store.catalog.get_meta("ocr") or OLD_INDEX_OCR),
            ocr_engine=_engine_named(options.ocr_engine or store.catalog.get_meta("ocr_engine") or "auto"),
            regions=validate_regions(tuple(remembered.get("names", [])) + tuple(options.regions)),
            region_scope=_scope(options.region_scope or remembered.get("scope", "drawings")),
            index_type=asked_type or store.manifest.requested_index_type,
        )  # fmt: skip

    def remember(self, store: IndexStore) -> None:
        """Write what a later run, a query and ``status`` read back (the caller holds the writer lock).
        Another OCR engine than the one that read the index's pictures has them read again, so
        one index never holds two engines' readings (``Catalog.read_text_again``)."""
        if self.ocr != "none" and self.ocr_engine != (store.catalog.get_meta("ocr_engine") or "auto"):
            store.catalog.read_text_again()
        store.catalog.set_meta("ocr", self.ocr)
        store.catalog.set_meta("ocr_engine", self.ocr_engine)
        if self.regions:
            store.catalog.set_meta("regions", json.dumps({"names": list(self.regions), "scope": self.region_scope}))
        store.manifest.set_requested_index_type(self.index_type)

    def remember_encoding(self, store: IndexStore, encoder: EncoderHandle) -> None:
        """The precision the images are embedded at now (queries use it), and what runs them and why."""
        note = dict(encoder.run_note or {})
        fallback = REMEMBERED_PRECISION if self.precision == NEW_INDEX_PRECISION else self.precision
        store.manifest.set_encoding({"precision": str(note.pop("precision", fallback)), **note})


def precision_of(store: IndexStore) -> str:
    """The precision the index's images were embedded at: fp32 unless it was indexed with bf16 or int8."""
    return store.manifest.precision


def _ocr(mode: str) -> str:
    if mode not in OCR_MODES:
        raise UsageError(f"--ocr must be one of {', '.join(OCR_MODES)}")
    return mode


def _engine_named(name: str) -> str:
    from ..ingest.textreader import engine_named

    return engine_named(name)


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise UsageError(f"--region-scope must be one of {', '.join(SCOPES)}")
    return scope


def validate_index_type(index_type: str) -> str:
    """'auto', a FAISS factory string FAISS accepts, or ``sharded:`` and an IVF one (built from shards,
    served from disk): checked now, not after an hour of indexing."""
    if index_type == "auto":
        return index_type
    from ..store.vectors import VectorIndex, factory_of, ivf_of

    factory = factory_of(index_type)
    try:
        created = VectorIndex.create(8 if "PQ" not in factory else 64, factory)
    except ClipsearchError as err:
        raise UsageError(f"--index-type: {err}") from err
    if factory != index_type and ivf_of(created.index) is None:
        raise UsageError(f"--index-type {index_type}: a sharded index is an IVF, e.g. sharded:IVF4096,SQ8")
    return index_type
