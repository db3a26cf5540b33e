"""End to end through the CLI on copies of the shared corpus, with a tiny random model on disk."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

INDEX_KEYS = {"added", "updated", "moved", "removed", "unchanged", "skipped", "items"}


def _paths(results: list[dict]) -> list[str]:
    return [r["path"] for r in results]


def test_index_json_contract_and_second_run_embeds_nothing(cli, tiny_model, photos):
    first = cli.json("index", str(photos), *tiny_model.args)
    assert set(first) >= INDEX_KEYS and isinstance(first["skipped_files"], list)
    assert all(isinstance(first[k], int) for k in INDEX_KEYS)
    # 9 images; the OCR sidecar .json next to the drawings is not an image and is passed over silently
    assert (first["added"], first["items"], first["skipped"]) == (9, 9, 0)

    second = cli.json("index", str(photos))  # the index remembers its model: no flags needed
    assert (second["unchanged"], second["added"], second["updated"], second["embedded"]) == (9, 0, 0, 0)
    assert second["items"] == 9


def test_edit_delete_rename_are_tracked(cli, tiny_model, photos):
    cli.json("index", str(photos), *tiny_model.args)
    chelsea = photos / "photos" / "chelsea.png"
    Image.open(chelsea).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(chelsea)  # content changed
    (photos / "photos" / "horse.png").unlink()
    moved_to = photos / "renamed" / "rocket-launch.jpg"
    moved_to.parent.mkdir()
    (photos / "photos" / "rocket.jpg").rename(moved_to)

    report = cli.json("index", str(photos))
    assert report["updated"] == 1
    assert report["removed"] == 1
    assert report["moved"] == 1
    assert report["embedded"] == 1  # only the edited file ran the model; the moved one reused its vector
    assert report["items"] == 8

    everything = _paths(cli.json("search", "anything", "-k", "50"))
    assert str(moved_to) in everything
    assert str(photos / "photos" / "rocket.jpg") not in everything
    assert str(photos / "photos" / "horse.png") not in everything
    status = cli.json("status")
    assert status["items"] == 8


def test_exact_copy_is_found_by_similar_with_score_one(cli, tiny_model, photos):
    original = photos / "photos" / "coffee.png"
    copy = photos / "copies" / "coffee (1).png"
    copy.parent.mkdir()
    shutil.copy2(original, copy)
    report = cli.json("index", str(photos), *tiny_model.args)
    assert report["added"] == 10

    results = cli.json("similar", str(original), "-k", "3")
    assert str(original) not in _paths(results)  # an indexed query image is left out of its own results
    assert results[0]["path"] == str(copy)
    assert abs(results[0]["score"] - 1.0) < 1e-4
    assert results[1]["score"] < results[0]["score"]


def test_similar_with_a_file_outside_the_index_runs_the_model(cli, tiny_model, photos, tmp_path):
    cli.json("index", str(photos), *tiny_model.args)
    outside = tmp_path / "elsewhere" / "query.png"
    outside.parent.mkdir()
    shutil.copy2(photos / "photos" / "astronaut.png", outside)
    results = cli.json("similar", str(outside), "-k", "2")
    # same pixels through the model: the stored vector (made at index time) must match what a query makes
    assert results[0]["path"] == str(photos / "photos" / "astronaut.png")
    assert results[0]["score"] > 0.999


def test_bad_files_are_skipped_with_reasons_and_the_run_goes_on(cli, tiny_model, photos):
    (photos / "broken").mkdir()
    good = (photos / "photos" / "rocket.jpg").read_bytes()
    (photos / "broken" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (photos / "broken" / "notes.jpg").write_text("<html>not a picture</html>")
    (photos / "broken" / "empty.png").write_bytes(b"")
    os.symlink(photos / "nowhere.png", photos / "broken" / "dangling.png")

    result = cli("index", str(photos), *tiny_model.args, "--json")
    assert result.exit_code == 0
    report = __import__("json").loads(result.stdout)
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(reasons) == {"truncated.jpg", "notes.jpg", "empty.png", "dangling.png"}
    assert "not a recognised image" in reasons["notes.jpg"]
    assert "empty" in reasons["empty.png"]
    assert "broken symlink" in reasons["dangling.png"]
    assert report["skipped"] == 4 and report["items"] == 9

    again = cli.json("index", str(photos))  # unchanged bad files are not retried, still reported
    assert again["skipped"] == 4 and again["embedded"] == 0


def test_hidden_files_and_excludes(cli, tiny_model, photos):
    hidden = photos / ".thumbnails"
    hidden.mkdir()
    shutil.copy2(photos / "photos" / "horse.png", hidden / "horse.png")
    shutil.copy2(photos / "photos" / "horse.png", photos / ".secret.png")
    report = cli.json("index", str(photos), *tiny_model.args, "--exclude", "drawings")
    assert report["items"] == 6  # photos only: hidden and excluded left out

    report = cli.json("index", str(photos), "--hidden")
    assert report["items"] == 11  # 6 photos + 3 drawings + 2 hidden copies (reused vectors, no model)
    assert report["embedded"] == 3


def test_query_arithmetic_changes_the_ranking(cli, tiny_model, photos):
    cli.json("index", str(photos), *tiny_model.args)
    plain = cli.json("search", "a photo", "-k", "9")
    image_term = str(photos / "drawings" / "Gripper.jpg")
    pushed = cli.json("search", "a photo", "-k", "9", "--add", f"5:{image_term}")
    assert pushed[0]["path"] == image_term  # a heavy image term dominates the query
    assert [r["path"] for r in plain] != [r["path"] for r in pushed]
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(pushed))


def test_min_score_and_top(cli, tiny_model, photos):
    cli.json("index", str(photos), *tiny_model.args)
    assert len(cli.json("search", "a cat", "-k", "3")) == 3
    assert cli.json("search", "a cat", "--min-score", "1.01") == []


def test_human_output_is_a_table(cli, tiny_model, photos):
    cli("index", str(photos), *tiny_model.args)
    out = cli("search", "a cat", "-k", "2").stdout.splitlines()
    assert out[0].split() == ["rank", "score", "scale", "match", "taken", "path"]
    rank, _score, kind, match, taken, path = out[1].split()[:6]
    assert rank == "1" and path.startswith(str(photos)) and (kind, match) == ("cosine", "meaning")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", taken)  # the photos' mtime: they carry no EXIF date
    status = cli("status").stdout
    assert "items" in status and "tiny-test-clip.json" in status


def test_model_change_is_refused_with_rebuild_advice(cli, tiny_model, photos):
    cli.json("index", str(photos), *tiny_model.args)
    result = cli("index", str(photos), "--model", str(tiny_model.config), "--pretrained", "none", ok=False)
    assert result.exit_code != 0
    assert "--rebuild" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    rebuilt = cli.json("index", str(photos), "--model", str(tiny_model.config), "--pretrained", "none", "--rebuild")
    assert rebuilt["added"] == 9
    assert cli.json("status")["pretrained"] == "none"


def test_user_mistakes_are_one_line_errors(cli, tiny_model, photos):
    missing_index = cli("search", "a cat", "--index", "nope", ok=False)
    assert missing_index.exit_code == 3 and "no index named 'nope'" in missing_index.stderr
    missing_path = cli("index", str(photos / "nope"), *tiny_model.args, ok=False)
    assert missing_path.exit_code == 2 and "no such file or folder" in missing_path.stderr
    bad_model = cli("index", str(photos), "--model", "ViT-Nope", ok=False)
    assert bad_model.exit_code == 2 and "unknown model" in bad_model.stderr
    cli("index", str(photos), *tiny_model.args)
    no_image = cli("similar", str(photos / "nope.png"), ok=False)
    assert no_image.exit_code == 2 and "no such image" in no_image.stderr
    for r in (missing_index, missing_path, bad_model, no_image):
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_index_folder_can_be_copied(cli, tiny_model, photos, tmp_path):
    cli.json("index", str(photos), *tiny_model.args)
    shutil.copytree(cli.home / "default", tmp_path / "other-home" / "moved")
    r = cli.json("search", "a cat", "--home", str(tmp_path / "other-home"), "--index", "moved", "-k", "9")
    assert len(r) == 9


def test_default_model_offline_fails_fast_with_advice(tmp_path, photos):
    """The real default path (pretrained tag from the hub) without network: one clear line, quickly."""
    env = {
        **os.environ,
        "CLIPSEARCH_HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    exe = Path(sys.executable).parent / "clipsearch"
    started = time.monotonic()
    proc = subprocess.run([str(exe), "index", str(photos)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "webli" in line and "--pretrained" in line and "tiny-shapes" in line and "local-dir:" in line
    assert "timm/ViT-B-32-SigLIP2-256" in line
    assert time.monotonic() - started < 60


def test_a_missing_folder_is_named_before_any_model_loads(tmp_path):
    """With the default model (whose weights are not here) a typo in the path is still exit 2 and
    names the path: the paths are checked before the model is loaded, so no model start-up is paid."""
    env = {**os.environ, "CLIPSEARCH_HOME": str(tmp_path / "home"), "HF_HOME": str(tmp_path / "hf")}
    env["HF_HUB_OFFLINE"] = "1"
    exe = Path(sys.executable).parent / "clipsearch"
    missing = tmp_path / "no" / "such" / "folder"
    started = time.monotonic()
    proc = subprocess.run([str(exe), "index", str(missing)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"clipsearch: error: no such file or folder: {missing}"
    assert not (tmp_path / "home" / "default").exists()  # no index was created for it
    assert time.monotonic() - started < 10
