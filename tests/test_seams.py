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
        (folder / "red-copy.png").write_bytes((folder / "red.png").read_bytes())
        assert ix.add([folder]).text["read"] == 0  # the copy's text is the original's, not read again
        hits = {Path(r.path).name: r for r in ix.search(text="KX-2291-B")}
        assert set(hits) == {"red.png", "red-copy.png"} and hits["red-copy.png"].text_boxes  # with its boxes


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


def test_the_guides_reader_example_runs(tmp_path):
    """docs/python.md's text reader of one's own, as written there: the gate finds the page's lines,
    the reader of one's own reads them, its words are found with where they stand."""
    import re

    from tests.helpers import scan

    guide = (Path(__file__).resolve().parents[1] / "docs" / "python.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", guide.split("## A text reader of one's own", 1)[1], re.S).group(1)
    folder = _pictures(tmp_path / "lib", {"red": (230, 20, 20)})
    scan(folder / "page.png", ["Some words on a page"])
    scope = {"HOME": str(tmp_path / "home"), "PICTURES": str(folder)}
    exec(compile(code, "docs/python.md", "exec"), scope)
    found = scope["found"]
    assert [Path(r.path).name for r in found] == ["page.png"]  # the flat red picture holds no line
    assert found[0].text_boxes and all(0 <= v <= 1 for v in found[0].text_boxes[0][:4])


def test_the_engine_is_remembered_shown_and_a_change_reads_every_text_again(tmp_path):
    """An index keeps the engine that read its pictures (status says which); a run naming another
    reads every picture's text again, so one index never mixes two engines' readings."""
    from tests.helpers import scan

    folder = _pictures(tmp_path / "lib", {"red": (230, 20, 20)})
    scan(folder / "page.png", ["Some words on a page"])
    first = scripted_ocr({"white": ["FIRST ENGINE"]})
    with Index.create("e", tmp_path / "home", model="tiny-shapes", ocr=first,
                      options=IndexOptions(ocr="all")) as ix:  # fmt: skip
        ix.add([folder])
        assert ix.status()["ocr_engine"] == "auto" and [Path(r.path).name for r in ix.search(text="first")]
    assert Index.open("e", tmp_path / "home").status()["ocr_engine"] == "auto"
    with Index.open("e", tmp_path / "home", ocr=OcrPool("rapidocr")) as ix:
        report = ix.add([folder])  # the built-in engine now reads what the scripted one read
        assert ix.status()["ocr_engine"] == "rapidocr" and report.text["read"] == 2
        assert ix.search(text="first") == [] and [Path(r.path).name for r in ix.search(text="words")] == ["page.png"]
        assert ix.add([folder]).text["read"] == 0  # remembered: nothing read again


def test_a_reader_given_wrongly_or_that_cannot_start_stops_before_marking_anything(tmp_path):
    from clipsearch import ReaderAbilities, TextReader

    class Broken(TextReader):
        name = "broken"
        abilities = ReaderAbilities(scripts=frozenset({"Latn"}))

        def __init__(self, threads=None, *, read_side=2000):
            raise RuntimeError("no licence file")

        def read(self, picture):  # pragma: no cover - never made
            return []

        def recognise(self, crops):  # pragma: no cover - never made
            return []

    with pytest.raises(UsageError, match="takes what makes one for a thread"):
        OcrPool(reader=object.__new__(Broken))
    folder = _pictures(tmp_path / "lib", COLOURED)
    with Index.create("b", tmp_path / "home", model="tiny-shapes", ocr=OcrPool(reader=Broken),
                      options=IndexOptions(ocr="all")) as ix:  # fmt: skip
        with pytest.raises(UsageError, match="could not start: RuntimeError: no licence file"):
            ix.add([folder])
        status = ix.status()
        assert status["items"] == 3 and status["text_unreadable"] == 0 and status["waiting_for_text"] == 3
