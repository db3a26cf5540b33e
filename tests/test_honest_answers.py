"""Answers that say what they are: a picture given as the query is not its own first result unless
asked, and a region search with nothing to rank says what is missing, in one line."""

from __future__ import annotations

from pathlib import Path

from clipsearch.models.demo_shapes import generate_folder


def test_a_query_picture_is_not_its_own_first_result_unless_asked(cli, tmp_path):
    generate_folder(tmp_path / "shapes", per_class=2, seed=8)
    cli.json("index", str(tmp_path / "shapes"), "--model", "tiny-shapes", "--ocr", "none")
    query = sorted((tmp_path / "shapes").glob("red_circle_*"))[0]
    for command in ("search", "similar"):
        found = [Path(r["path"]) for r in cli.json(command, str(query), "-k", "3")]
        assert query not in found and found[0].name.startswith("red_circle"), (command, found)
        mine = cli.json(command, str(query), "-k", "3", "--include-self")
        assert Path(mine[0]["path"]) == query and mine[0]["score"] > 0.99, command


def test_a_region_search_with_no_region_stored_says_why(cli, tmp_path):
    generate_folder(tmp_path / "shapes", per_class=1, seed=8)
    cli.json("index", str(tmp_path / "shapes"), "--model", "tiny-shapes", "--ocr", "none")
    picture = sorted((tmp_path / "shapes").glob("*"))[0]
    answer = cli("similar", str(picture), "--region", "title-block", ok=False)
    assert answer.exit_code == 2 and "Traceback" not in answer.output
    assert "no page of this index has a title-block region stored" in answer.stderr
    assert "--region title-block" in answer.stderr  # how to get it
