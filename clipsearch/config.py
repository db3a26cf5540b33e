"""Where indexes live and which defaults apply, read from flags, environment and platform.

Kept apart from the CLI so the library and the tests resolve locations the same way the command
line does (``CLIPSEARCH_HOME`` beats the platform's user data folder).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

ENV_HOME = "CLIPSEARCH_HOME"
#: The environment the library reads, each variable here and only through :func:`setting`: the
#: command line's flags, the Python API's arguments and these agree because they meet in one place.
SETTINGS = {
    "home": ENV_HOME,  # the folder of all indexes
    "index": "CLIPSEARCH_INDEX",  # the index a call names none
    "model": "CLIPSEARCH_MODEL",  # a new index's model
    "pretrained": "CLIPSEARCH_PRETRAINED",  # ... and its weights
    "device": "CLIPSEARCH_DEVICE",  # auto, cpu, cuda, mps
    "runtime": "CLIPSEARCH_RUNTIME",  # auto, openvino, onnx, torch
    "catalog": "CLIPSEARCH_CATALOG",  # a new index's catalog: a postgresql:// URL (else SQLite)
    "ocr": "CLIPSEARCH_OCR",  # text in pictures: none, auto, all
    "cache": "CLIPSEARCH_CACHE",  # exported models and other per-user caches
    "openvino_cache": "CLIPSEARCH_OV_CACHE",  # 0: compile OpenVINO models anew each time
}


def setting(key: str) -> str | None:
    """The environment's value for a setting of :data:`SETTINGS` (None when unset or empty)."""
    return os.environ.get(SETTINGS[key]) or None


DEFAULT_INDEX = "default"
#: Limits and thresholds with their defaults, here so the CLI can show them without importing
#: Pillow, numpy or PDFium (a cold query starts its work before those load).
DEFAULT_MAX_MEGAPIXELS = 200.0  # larger pictures are skipped as decompression bombs
#: A picture a client sends (HTTP upload, MCP ``similar``): its bytes and its decoded size are capped
#: lower than the library's own files, whose owner chose them.
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_MAX_MEGAPIXELS = 50.0
DEFAULT_MAX_PAGES = 100  # pages indexed per PDF
DEFAULT_MAX_DISTANCE = 24  # Hamming bits between perceptual codes of duplicates (see phash.py)
#: Model precisions. bf16: the image tower in OpenVINO with bfloat16 arithmetic (CPUs with
#: AVX512_BF16 or AMX); int8: dynamic quantisation, int8 weights and run-time activation scales
#: (OpenVINO's or ONNX Runtime's, see quantise.py).
PRECISIONS = ("fp32", "bf16", "int8")
#: What ``--precision`` takes: ``auto`` (a new index's default) is the fastest configuration that
#: keeps cosine >= 0.999 to fp32 on this CPU, measured once per model by the planner.
PRECISION_CHOICES = ("auto", *PRECISIONS)
#: Text in pictures (``index --ocr``), weakest first: an index asked for a stronger mode reads again
#: what a weaker one skipped.
OCR_MODES = ("none", "auto", "all")
#: CPU runtimes; ``auto`` picks OpenVINO when installed, ONNX Runtime otherwise.
RUNTIMES = ("auto", "openvino", "onnx", "torch")


def export_precision(precision: str) -> str:
    """Which exported ONNX files a precision runs from: bf16 compiles the fp32 files in OpenVINO."""
    return "int8" if precision == "int8" else "fp32"


#: Evidence kinds of the duplicate finder, cheapest first.
#: raw-pair: a RAW file and the JPEG (or HEIC) the camera wrote beside it for the same shot.
#: What ``duplicates --by`` takes, strongest evidence first: copies found by their bytes, a RAW file
#: and its JPEG, by perceptual code, by meaning; then what is reported beside copies: pages that
#: look the same but whose text differs in a few words (revisions, never moved as copies), and
#: whole PDFs whose pages are copies, in order, of another's.
DUPLICATE_TIERS = ("exact", "raw-pair", "perceptual", "semantic", "document", "revision")
_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def default_home() -> Path:
    """The folder that holds all indexes: ``$CLIPSEARCH_HOME`` or the platform's user data folder."""
    env = setting("home")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("clipsearch", appauthor=False)


def validate_index_name(name: str) -> str:
    """Index names become folder names, so keep them to a safe, portable alphabet."""
    if not _INDEX_NAME_RE.match(name) or name in {".", ".."}:
        raise UsageError(f"invalid index name {name!r}: use letters, digits, '.', '_' or '-' (at most 100 characters)")
    return name


@dataclass(frozen=True)
class IndexLocation:
    """A named index under a home folder; the folder itself is self-contained and relocatable."""

    home: Path
    name: str = DEFAULT_INDEX

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home))

    @property
    def path(self) -> Path:
        return self.home / validate_index_name(self.name)

    @classmethod
    def resolve(cls, name: str | None = None, home: str | os.PathLike[str] | None = None) -> IndexLocation:
        return cls(
            home=Path(home).expanduser() if home else default_home(),
            name=validate_index_name(name or setting("index") or DEFAULT_INDEX),
        )


@dataclass(frozen=True)
class ModelChoice:
    """Which model an index is built with, as a user names it (flags, environment or Python).

    ``name``: an open_clip architecture, a config JSON path, an ``hf-hub:`` name or a built-in
    (``tiny-shapes``); ``pretrained``: an open_clip tag, an ``hf-hub:`` name, a weights file or
    'none'. Both None: ``CLIPSEARCH_MODEL`` / ``CLIPSEARCH_PRETRAINED``, else the default model
    (or, for an existing index, the model it was built with).
    """

    name: str | None = None
    pretrained: str | None = None

    def from_environment(self) -> ModelChoice:
        """Unset fields filled from ``CLIPSEARCH_MODEL`` / ``CLIPSEARCH_PRETRAINED``."""
        return ModelChoice(self.name or setting("model"), self.pretrained or setting("pretrained"))

    @property
    def asked(self) -> bool:
        return self.name is not None or self.pretrained is not None


@dataclass(frozen=True)
class RuntimeChoice:
    """How to run the model: ``runtime`` (one of :data:`RUNTIMES`), ``precision`` (one of
    :data:`PRECISION_CHOICES`; a new index's default is 'auto', an existing index keeps its own
    unless asked) and ``device`` (auto, cpu,
    cuda, mps; ``CLIPSEARCH_DEVICE`` when unset)."""

    runtime: str | None = None
    precision: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision not in PRECISION_CHOICES:
            raise UsageError(f"unknown precision {self.precision!r}: use one of {', '.join(PRECISION_CHOICES)}")
        if self.runtime is not None and self.runtime.lower() not in RUNTIMES:
            raise UsageError(f"unknown runtime {self.runtime!r}: use one of {', '.join(RUNTIMES)}")

    @property
    def resolved_device(self) -> str | None:
        """The device asked, else ``$CLIPSEARCH_DEVICE``: the one place a device is resolved."""
        return self.device or setting("device")


#: Regions of a page stored on their own (``index --region``; ``ingest/regions.py``): a name and a
#: box in fractions of the page (x0, y0, x1, y1).
REGIONS: dict[str, tuple[float, float, float, float]] = {
    # bottom-right corner, where ISO 7200 and most house styles put the title block
    "title-block": (0.45, 0.72, 1.0, 1.0),
}
#: ``--region tiles``: a grid of overlapping crops per page, 3 x 3 tiles each half the page's width
#: and height, a quarter apart, so any detail up to a quarter of the page lies whole inside one
#: tile; ``similar --box`` then finds a detail inside other pages, not only pages that look like it.
TILES: dict[str, tuple[float, float, float, float]] = {
    f"tile:{r}{c}": (c * 0.25, r * 0.25, c * 0.25 + 0.5, r * 0.25 + 0.5) for r in range(3) for c in range(3)
}
#: Names ``--region`` takes that stand for several regions.
REGION_GROUPS: dict[str, tuple[str, ...]] = {"tiles": tuple(TILES)}
#: Which pages get region vectors: those labelled as technical drawings, or every page.
SCOPES = ("drawings", "all")
