"""`Index`, the front door, for a whole session: the README's Python example is run as written
(the same code), on generated shapes, a drawing-like PDF with a part code in its text layer and a
copied picture, and what it returns is what a user would check."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tools.samples import text_pdf

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_a_whole_session(tmp_path, monkeypatch):
    from clipsearch.models.demo_shapes import generate_folder

    monkeypatch.setenv("CLIPSEARCH_OCR", "none")  # OCR has its own tests; the PDF's text layer is read anyway
    pictures = tmp_path / "pictures"
    made = generate_folder(pictures / "shapes", per_class=2)
    text_pdf(pictures / "part.pdf", ["PART KX-2291-B GEAR HOUSING"])
    first = Path(made[0].path)
    shutil.copy2(first, pictures / f"copy-of-{first.name}")
    scope = {"HOME": str(tmp_path / "home"), "PICTURES": str(pictures)}
    exec(compile(readme_example(), "README.md", "exec"), scope)

    report, hits, codes, pngs, alike = (scope[k] for k in ("report", "hits", "codes", "pngs", "alike"))
    assert report.added == len(made) + 2 and report.skipped == 0
    assert sum("red" in Path(h.path).name and "circle" in Path(h.path).name for h in hits[:2]) >= 1
    assert [Path(h.path).name for h in codes] == ["part.pdf"] and "KX-2291-B" in codes[0].text_snippet
    assert pngs and all(h.path.endswith(".png") for h in pngs)
    assert alike and all(h.path != hits[0].path for h in alike)  # the query picture itself is left out
    copies = [
        g
        for g in scope["groups"]
        if {first.name, f"copy-of-{first.name}"} <= {Path(m.item.path).name for m in g.members}
    ]
    assert len(copies) == 1
    tiers = {Path(m.item.path).name: m.tier for m in copies[0].members}
    assert "exact" in (tiers[first.name], tiers[f"copy-of-{first.name}"])  # the copy is known as a byte copy
    assert scope["healthy"] is True


def test_index_takes_the_writer_lock_only_while_it_writes(tmp_path, monkeypatch):
    from clipsearch import Index, IndexLockedError
    from clipsearch.models.demo_shapes import generate_folder

    monkeypatch.setenv("CLIPSEARCH_OCR", "none")
    generate_folder(tmp_path / "shapes", per_class=1)
    home = tmp_path / "home"
    with Index.create("a", home, model="tiny-shapes") as writer:
        writer.add([tmp_path / "shapes"])
        with Index.open("a", home) as other:  # nothing is being written: another writer may start
            info = other.categories.add("warm", prompts=["a red or orange thing"])
            assert info["facet"] == "subject" and info["items"] >= 0
            other.store.acquire_lock()
            with pytest.raises(IndexLockedError):  # while one writes, a second is refused at once
                writer.categories.remove("warm")
            other.store.release_lock()
        writer.categories.remove("warm")
        assert "warm" not in writer.categories.names()


def test_two_callers_of_one_shared_encoder_keep_their_own_language():
    """The process shares one encoder per model (sessions, text cache); a server answering a
    Russian query and its watcher labelling pictures each embed texts in their own language."""
    import threading
    import time

    from clipsearch.models.encoder import Abilities, EncoderHandle

    class Shared:
        info = None
        abilities = Abilities(languages=True)

        def encode_texts(self, texts, language=None):
            time.sleep(0.001)  # another caller's call meanwhile
            return [language] * len(texts)

    shared = Shared()
    russian, detected = EncoderHandle(shared, language="rus_Cyrl"), EncoderHandle(shared)
    assert Abilities.of(russian).languages and not Abilities.of(russian).prepares
    seen: dict[str, set] = {"rus_Cyrl": set(), "auto": set()}

    def ask(handle, key):
        for _ in range(50):
            seen[key].update(handle.encode_texts(["a text"]))

    threads = [
        threading.Thread(target=ask, args=(russian, "rus_Cyrl")),
        threading.Thread(target=ask, args=(detected, "auto")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"rus_Cyrl": {"rus_Cyrl"}, "auto": {None}} and vars(shared) == {}  # nothing written on it
