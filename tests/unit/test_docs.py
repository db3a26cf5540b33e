"""The docs a newcomer reads stay short, true and current: the README's size and first lines, every
relative link, and docs/cli.md against the commands' own --help."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", *(p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md")))]


def test_docs_cli_md_is_the_commands_own_help():
    from clipsearch.cli.reference import reference

    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == reference(), "docs/cli.md is stale: run `make docs`"


def test_the_readme_is_short_and_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) < 12_000
    first = text.split("```", 2)[1].strip().splitlines()
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]


def test_every_relative_link_in_the_docs_leads_somewhere():
    broken = []
    for name in DOCS:
        path = ROOT / name
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{name}: {target}")
    assert not broken, broken


#: A measured time or speed: "~0.25 s", "65 ms", "1.4x ONNX Runtime's", "79.6 images/s" (not "every 10 s").
_FIGURE = re.compile(r"(?<!every )\b\d+(\.\d+)?\s?m?s\b|\d+(\.\d+)?x (faster|slower|quicker|ONNX)|\d\s?images/s")


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring line of a module."""
    import ast
    import io
    import tokenize

    source = path.read_text(encoding="utf-8")
    found = [(t.start[0], t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.COMMENT]  # fmt: skip
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module) and node.body:
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found += [(node.body[0].lineno + i, line) for i, line in enumerate(doc.splitlines())]
    return found


def test_no_timing_figure_in_the_code_without_its_bench_key():
    """Figures in docstrings go stale the day the code changes: a figure lives in `make bench`'s
    output and docs/benchmarks.md, and the code names the key that measures it."""
    stale = [f"{p.relative_to(ROOT)}:{line}: {text.strip()}" for p in sorted((ROOT / "clipsearch").rglob("*.py"))
             for line, text in _prose(p) if _FIGURE.search(text) and "bench" not in text]  # fmt: skip
    assert not stale, "\n".join(stale)
