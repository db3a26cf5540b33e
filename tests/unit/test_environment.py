"""The environment is read in one place (``config.setting``): the library, the CLI and the servers
agree on what a variable means because none of them reads it on its own."""

from __future__ import annotations

from pathlib import Path

import clipsearch
from clipsearch.config import SETTINGS, setting

PACKAGE = Path(clipsearch.__file__).parent


def test_each_variable_is_named_in_config_only():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "config.py" and path.parent == PACKAGE:
            continue
        source = path.read_text(encoding="utf-8")
        named = [v for v in SETTINGS.values() if f'"{v}"' in source]
        assert not named, f"{path.relative_to(PACKAGE)} reads {named} itself"


def test_the_library_reads_what_the_cli_used_to(monkeypatch, tmp_path):
    from clipsearch import Index

    monkeypatch.setenv("CLIPSEARCH_INDEX", "photos")
    monkeypatch.setenv("CLIPSEARCH_HOME", str(tmp_path))
    where = Index.locate()
    assert where.name == "photos" and where.home == tmp_path  # Index.locate keeps its promise
    monkeypatch.setenv("CLIPSEARCH_DEVICE", "")
    assert setting("device") is None  # empty is unset
