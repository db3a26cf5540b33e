"""What the text pass decides, engine by engine: what a crop must read as, readers shared between
threads, the helper for the scripts a reader lacks, OpenVINO's first call. Fakes stand in for the
engines (``tests/fakes.py``); no index is made."""

from __future__ import annotations

import time
from typing import ClassVar

from PIL import Image

from tests.fakes import ScriptedGate, scripted_reader


def test_a_helper_reads_again_the_lines_in_a_script_the_reader_lacks():
    """A line the reader is unsure of goes to the helper, whose reading is kept where it is a word
    in a script the reader lacks (Tesseract's Cyrillic beside PP-OCR), and only there."""
    from clipsearch.ingest.ocrpool import OcrPool
    from clipsearch.ingest.textreader import ReaderAbilities, TextReader

    class Cyrillic(TextReader):
        name = "cyrillic"
        abilities = ReaderAbilities(scripts=frozenset({"Cyrl"}))
        asked: ClassVar[list[int]] = []

        def read(self, picture):  # pragma: no cover - a helper only recognises
            raise AssertionError

        def recognise(self, crops):
            self.asked.append(len(crops))
            return [("Чертёж детали", 0.9), ("ok", 0.9)][: len(crops)]

    lines = {"white": ["HepTex gerann", "Scale 1:2"]}
    doubtful = scripted_reader(lines)

    def unsure(threads):  # the first line read with doubt, as PP-OCR reads Cyrillic
        reader = doubtful(threads)
        read = reader.read
        reader.read = lambda picture: [(b, t, 0.7 if t.startswith("Hep") else 0.99) for b, t, _ in read(picture)]
        return reader

    page = Image.new("RGB", (800, 600), "white")
    pool = OcrPool(reader=unsure, gate=lambda threads: ScriptedGate(lines), helper=Cyrillic())
    assert pool.engine().read(page, page=True) == "Чертёж детали\nScale 1:2"
    assert Cyrillic.asked == [1]  # only the doubtful line, not the sure one
    plain = OcrPool(reader=unsure, gate=lambda threads: ScriptedGate(lines))
    assert plain.engine().read(page, page=True) == "HepTex gerann\nScale 1:2"


def test_the_first_openvino_call_of_a_process_runs_alone():
    """Two threads' first OpenVINO calls at once can deadlock inside its Python binding (seen: two
    text-pass workers' first gates): the first call of the process runs alone, later ones at once."""
    import threading

    from clipsearch.models import openvino_runtime

    infer = openvino_runtime.FirstAlone()  # as the process's own is before its first call
    running, most = [0], [0]
    lock = threading.Lock()
    started = threading.Barrier(4)

    class Request:
        def infer(self, inputs: object) -> None:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with lock:
                running[0] -= 1

    def call() -> None:
        started.wait()
        infer(Request(), {})

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    with lock:
        assert running[0] == 1  # the first call alone, the others wait for it
    for thread in threads:
        thread.join()
    assert infer.done.is_set()
    assert most[0] >= 2  # after the first, calls run side by side


def test_workers_share_a_reader_until_one_waits_for_it():
    """Reading a sign's lines takes tens of ms and starting a reader a quarter second of a core, so
    the text pass's workers share one reader: taking turns starts one, and a worker that comes while
    the first is still starting waits for it. A worker kept waiting past ``READER_WAIT`` (the other
    reads a drawing page, seconds) starts its own instead of waiting the page out."""
    import threading
    import time

    from clipsearch.ingest.ocrpool import Readers

    started: list[int] = []

    def start(threads):  # a reader as slow to start as a real one
        time.sleep(0.3)
        started.append(threads)
        return object()

    readers = Readers(start)

    def read(seconds: float, out: list | None = None) -> None:
        began = time.monotonic()
        with readers.borrow(1):
            if out is not None:
                out.append(time.monotonic() - began)
            time.sleep(seconds)

    def photos() -> None:  # a sign now and then between gates
        for _ in range(10):
            read(0.02)
            time.sleep(0.03)

    signs = [threading.Thread(target=photos) for _ in range(2)]
    for t in signs:
        t.start()
    for t in signs:
        t.join()
    assert started == [1]  # the second came while the first started, then they took turns

    page = threading.Thread(target=read, args=(3.0,))
    page.start()
    time.sleep(0.1)
    waited: list[float] = []
    read(0.0, waited)
    page.join()
    assert started == [1, 1] and waited[0] < 1.5  # its own reader, not the page's end


def test_a_lone_glyph_read_from_grain_is_dropped_but_a_sign_is_kept():
    """What a crop the detector flagged must read as to count as text."""
    from clipsearch.ingest.ocr import kept_crop

    assert not kept_crop("：", 0.90)  # punctuation read from grain (a bench photo)
    assert not kept_crop("一", 0.77)  # one stroke, not sure of it
    assert not kept_crop("ioo", 0.52)  # below the crop score
    assert kept_crop("P", 0.99)  # a parking sign
    assert kept_crop("KX-2040-B", 0.98)
    assert kept_crop("Выход", 0.74)  # a Cyrillic word PP-OCR spells badly: Tesseract reads it again
