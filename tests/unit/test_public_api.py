"""The package's public names are a contract: everything in __all__ exists and is documented."""

import inspect

import clipsearch
from clipsearch import errors

#: The door, pinned (as httpx pins its own): a name added or dropped is a decision, made here.
PUBLIC = {
    "Index", "Answer", "Filters", "SearchResult", "IndexOptions", "IndexReport", "IndexSettings", "WatchSettings",
    "IndexLocation", "ModelChoice", "RuntimeChoice", "default_home", "DEFAULT_MODEL", "api", "__version__",
    "OcrPool", "TextReader", "ReaderAbilities",  # a text-reading engine of one's own, plugged into Index
}  # fmt: skip


def test_the_door_holds_what_a_user_needs_and_every_error_they_can_catch():
    raised = {n for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.ClipsearchError)}
    assert set(clipsearch.__all__) == PUBLIC | raised
    for name in ("Catalog", "IndexStore", "VectorIndex", "Searcher", "TorchEncoder", "OnnxEncoder"):
        assert not hasattr(clipsearch, name), name  # engines stay behind Index


def test_all_names_exist_and_are_documented():
    for name in clipsearch.__all__:
        obj = getattr(clipsearch, name)
        if callable(obj) and not name.startswith("__"):
            assert obj.__doc__, f"{name} has no docstring"
    assert sorted(clipsearch.__all__) == sorted(set(clipsearch.__all__))


def test_no_public_module_imports_click_or_prints():
    import pathlib

    for path in pathlib.Path(clipsearch.__file__).parent.glob("*.py"):
        if path.name == "cli.py" or path.name.startswith("cli_"):
            continue
        text = path.read_text()
        assert "import click" not in text, path
        assert "print(" not in text and "sys.exit" not in text, path
