"""RapidOCR behind :class:`~.textreader.TextReader`: PP-OCRv6 small, detector, angle classifier and
recogniser (``rapidocr`` 3.10, inside its wheel, Apache-2.0), chosen by measurement on our drawings
(``tools/bench_ocr.py``; docs/benchmarks.md): against v4 it finds more labels (its dictionary has ⌀
and ∅, it keeps the spaces between words, it reads rotated text better).

Its models run on OpenVINO (``ocr_runtime.py``: the recogniser in bf16 where the CPU has it), each
on ONNX Runtime where OpenVINO cannot compile it. rapidocr's quirks stay in this module:

- it parses its table of downloadable models with OmegaConf at import, in pure Python holding the
  GIL (:func:`model_table_parsed_once` parses it once with libyaml instead);
- it has no way to be handed a session, so each part's module is handed our session maker for the
  time it takes to build that part (:func:`_load_parts`), under one lock;
- it keeps the last call's ``use_det`` on itself, so every call says it.

Both are patched for the span of one call under :data:`_BUILDING`, never for the process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .ocr_runtime import Session, session
from .textreader import Line, ReaderAbilities, TextReader

#: Held while rapidocr's modules are patched (an import, a reader's parts being built).
_BUILDING = threading.Lock()
#: rapidocr's modules that make a session for their model, and the reader's attribute each fills.
_PARTS = (("Det", "ch_ppocr_det", "TextDetector", "text_det"), ("Cls", "ch_ppocr_cls", "TextClassifier", "text_cls"),
          ("Rec", "ch_ppocr_rec", "TextRecognizer", "text_rec"))  # fmt: skip


class RapidReader(TextReader):
    """PP-OCRv6 for one thread, reading pictures up to ``read_side`` on their longest side with
    ``threads`` cores (None: every core). ``openvino``: False keeps ONNX Runtime for every part."""

    name = "rapidocr"
    # PP-OCRv6's dictionary: Chinese, Japanese kana, Latin, Greek letters as symbols (no Cyrillic:
    # it reads "Чертёж" as "HepTéx"); its angle classifier turns text upside down, not on its side
    abilities = ReaderAbilities(scripts=frozenset({"Latn", "Hans", "Hant", "Jpan"}), turns=frozenset({0, 180}))

    def __init__(self, threads: int | None = None, *, read_side: int = 2000, openvino: bool = True) -> None:
        with model_table_parsed_once():
            from rapidocr import RapidOCR

        self._ocr = RapidOCR(params={
            "Global.log_level": "error",
            "Global.max_side_len": read_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })  # fmt: skip
        if openvino:
            _load_parts(self._ocr, threads)

    @property
    def runtime(self) -> str:
        kinds = {isinstance(getattr(getattr(self._ocr, part[3], None), "session", None), Session) for part in _PARTS}
        return "openvino" if kinds == {True} else "onnxruntime" if kinds == {False} else "openvino+onnxruntime"

    def read(self, picture: Any) -> list[Line]:
        out = self._ocr(_bgr(picture), use_det=True)
        if out.boxes is None or not out.txts:
            return []
        return [([(float(x), float(y)) for x, y in box], str(text), float(score))
                for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True)]  # fmt: skip

    def recognise(self, crops: Sequence[Any]) -> list[tuple[str, float]]:
        read = []
        for crop in crops:
            out = self._ocr(_bgr(crop), use_det=False)
            texts, scores = list(out.txts or ()), [float(s) for s in out.scores or ()]
            read.append((" ".join(map(str, texts)), min(scores)) if texts else ("", 0.0))
        return read


def _bgr(picture: Any) -> np.ndarray:
    """A PIL picture as the BGR array rapidocr takes."""
    return np.ascontiguousarray(np.asarray(picture.convert("RGB") if picture.mode != "RGB" else picture)[:, :, ::-1])


@contextlib.contextmanager
def model_table_parsed_once() -> Iterator[None]:
    """While rapidocr is imported: its table of downloadable models (``default_models.yaml``, 85 KB,
    never used offline but to name the files in its wheel) is parsed by OmegaConf at import, twice,
    in pure Python holding the GIL: most of the import's time, during which the other text worker's
    gates starved (py-spy, the start of a pass). Parsed once here, by libyaml (the same values:
    ``tests/test_text_search.py``)."""
    import yaml
    from omegaconf import OmegaConf

    own = OmegaConf.load
    parsed: dict[str, Any] = {}

    def load(file: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(file, str | os.PathLike) or Path(file).name != "default_models.yaml":
            return own(file, *args, **kwargs)
        if str(file) not in parsed:
            with open(file, encoding="utf-8") as f:
                parsed[str(file)] = OmegaConf.create(yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        return parsed[str(file)]

    with _BUILDING:
        OmegaConf.load = load  # type: ignore[method-assign]
        try:
            yield
        finally:
            OmegaConf.load = own  # type: ignore[method-assign]


def _load_parts(ocr: Any, threads: int | None) -> None:
    """Make ``ocr``'s three parts as its own lazy loaders would, each with an OpenVINO session in
    place of the ONNX Runtime one (rapidocr offers OpenVINO too, but without a precision or a
    cache: fp32 on a CPU without AMX, compiled afresh on every start). Each part's module is handed
    our session maker for the time it takes to make the part (under a lock: one part at a time)."""
    import importlib

    from rapidocr.inference_engine.base import FileInfo, InferSession, get_engine

    root = Path(ocr.cfg.Global.model_root_dir)

    def make(cfg: Any) -> Any:
        info = FileInfo(engine_type=cfg.engine_type, ocr_version=cfg.ocr_version, task_type=cfg.task_type,
                        lang_type=cfg.lang_type, model_type=cfg.model_type)  # fmt: skip
        path = Path(cfg.get("model_path") or root / Path(InferSession.get_model_url(info)["model_dir"]).name)
        task = str(cfg.task_type.value)
        faster = session(path, threads, static=task == "det", dictionary=task == "rec")
        return faster if faster is not None else get_engine(cfg.engine_type)(cfg)

    with _BUILDING:
        for section, module_name, class_name, attribute in _PARTS:
            module = importlib.import_module(f"rapidocr.{module_name}.main")
            cfg = ocr.cfg[section]
            cfg.engine_cfg = ocr.cfg.EngineConfig[cfg.engine_type.value]
            cfg.model_root_dir = ocr.cfg.Global.model_root_dir
            if section == "Rec":
                cfg.font_path = ocr.cfg.Global.font_path
            own = module.get_engine
            module.get_engine = lambda _engine_type: make
            try:
                setattr(ocr, attribute, getattr(module, class_name)(cfg))
            finally:
                module.get_engine = own
