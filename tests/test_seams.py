"""Engines of one's own plugged through the library's seams (``tests/fakes.py``): an image model
through ``loader``, text readers through an ``OcrPool``; the rest of the library runs for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from clipsearch import Index, IndexOptions, OcrPool, UsageError
from tests.fakes import ColourEncoder, scripted_ocr


def _pictures(folder: Path, colours: dict[str, tuple[int, int, int]], size: tuple[int, int] = (320, 240)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in colours.items():
        Image.new("RGB", size, rgb).save(folder / f"{name}.png")
    return folder


COLOURED = {"red": (230, 20, 20), "blue": (20, 20, 230), "green": (20, 230, 20)}


def test_a_text_reader_of_ones_own_reads_every_picture_of_a_run(tmp_path):
    """The text pass reads through the engine it is handed: the words it reads are found, each
    in the picture it read them from, and a picture the gate passes over keeps no text."""
    folder = _pictures(tmp_path / "lib", COLOURED)
    ocr = scripted_ocr({"red": ["PART KX-2291-B"], "blue": ["EXIT 42"]})
    with Index.create("seams", tmp_path / "home", model="tiny-shapes", ocr=ocr) as ix:
        report = ix.add([folder])
        assert report.text["read"] == 3 and report.text["with_text"] == 2
        assert [Path(r.path).name for r in ix.search(text="KX-2291-B")] == ["red.png"]
        assert [Path(r.path).name for r in ix.search(text="exit")] == ["blue.png"]
        assert ix.search(text="green") == []


def test_an_ocr_failure_leaves_the_text_unknown_and_the_run_goes_on(tmp_path):
    folder = _pictures(tmp_path / "lib", COLOURED)
    ocr = scripted_ocr({"red": ["never read"], "blue": ["nor this"]}, fail=True)
    with Index.create("seams", tmp_path / "home", model="tiny-shapes", ocr=ocr) as ix:
        report = ix.add([folder])
        assert report.added == 3 and report.skipped == 0  # every picture searchable by meaning
        assert report.text["unreadable"] == 2
        reasons = {Path(f["path"]).name: f["reason"] for f in report.text["unreadable_files"]}
        assert set(reasons) == {"red.png", "blue.png"} and "the scripted engine fails" in reasons["red.png"]


def test_an_engine_that_cannot_run_here_is_said_before_any_work(tmp_path, monkeypatch):
    from clipsearch.ingest import tesseract_reader

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract program to be found
    folder = _pictures(tmp_path / "lib", {"red": (230, 20, 20)})
    with Index.create("seams", tmp_path / "home", model="tiny-shapes") as ix:
        with pytest.raises(UsageError, match="Tesseract is not installed"):
            ix.add([folder], options=IndexOptions(ocr="auto", ocr_engine="tesseract"))
        assert ix.status()["items"] == 0
    assert tesseract_reader.TesseractReader.available() is not None
    with pytest.raises(UsageError, match="no OCR engine 'paddle'"):
        OcrPool("paddle")


def test_an_image_model_of_ones_own_embeds_and_answers(tmp_path):
    """An encoder handed through ``loader`` embeds the pictures and the queries: a red picture is
    the first answer to "red", for the index's own model facts."""
    from clipsearch.models.registry import ModelInfo

    made: list[ColourEncoder] = []

    def loader(ref, device):
        info = ModelInfo(name=ref.name, pretrained=ref.pretrained, kind=ref.kind, dim=16, image_size=8,
                         mean=(0.0,) * 3, std=(1.0,) * 3, interpolation="bicubic", resize_mode="squash",
                         context_length=77)  # fmt: skip
        made.append(ColourEncoder(info))
        return made[-1]

    folder = _pictures(tmp_path / "lib", COLOURED)
    with Index.create("own", tmp_path / "home", model="tiny-shapes", loader=loader,
                      options=IndexOptions(ocr="none")) as ix:  # fmt: skip
        ix.add([folder])
        assert made[0].images == 3
        for colour in COLOURED:
            assert Path(ix.search(colour, k=1)[0].path).name == f"{colour}.png"
        assert ix.status()["dim"] == 16
