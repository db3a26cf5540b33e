"""The page's duplicate actions over HTTP: read-only unless the server was started to allow
changes; then a plan first, a move logged and undone by its log's name, a dismissal remembered."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app

LOCAL = "http://127.0.0.1"


def _library(cli, tmp_path: Path) -> Path:
    shapes = tmp_path / "shapes"
    generate_folder(shapes, per_class=1, seed=4)
    original = next(shapes.glob("red_circle_00.*"))
    (shapes / "copies").mkdir()
    shutil.copy2(original, shapes / "copies" / original.name)  # a byte copy
    cli("index", str(shapes), "--model", "tiny-shapes")
    return shapes


def test_a_read_only_server_changes_nothing(cli, tmp_path):
    _library(cli, tmp_path)
    client = TestClient(create_app(IndexLocation(cli.home, "default")), base_url=LOCAL)
    group = client.get("/api/duplicates").json()[0]["group"]
    assert client.get("/api/activity").json()["changes"] is False
    for method, url in (("post", f"/api/duplicates/{group}/dismiss"), ("get", f"/api/duplicates/{group}/plan"),
                        ("post", f"/api/duplicates/{group}/move"), ("post", "/api/moves/x.jsonl/undo"),
                        ("get", "/api/moves")):  # fmt: skip
        answer = getattr(client, method)(url)
        assert answer.status_code == 403 and "--allow-changes" in answer.json()["error"], url
    assert client.get("/api/duplicates").json()[0]["group"] == group


def test_the_page_moves_copies_with_a_plan_and_undoes_them(cli, tmp_path):
    _library(cli, tmp_path)
    moved_to = tmp_path / "moved"
    client = TestClient(create_app(IndexLocation(cli.home, "default"), changes_to=str(moved_to)), base_url=LOCAL)
    assert client.get("/api/activity").json()["changes"] is True
    before = client.get("/api/duplicates").json()
    (group,) = [g for g in before if g["tier"] == "exact"]
    plan = client.get(f"/api/duplicates/{group['group']}/plan").json()
    assert plan["to_move"] == 1 and plan["dest"] == str(moved_to)
    leaving = next(e["from"] for e in plan["entries"] if e["move"])
    assert client.get("/api/duplicates").json() == before and Path(leaving).exists()  # a plan moves nothing
    refused = client.post(f"/api/duplicates/{group['group']}/move", headers={"Origin": "http://evil.example.com"})
    assert refused.status_code == 403 and Path(leaving).exists()
    done = client.post(f"/api/duplicates/{group['group']}/move").json()
    assert done["moved"] == 1 and not Path(leaving).exists() and "/" not in done["log"]
    assert group["group"] not in [g["group"] for g in client.get("/api/duplicates").json()]
    assert client.post("/api/moves/..%2F..%2Fetc%2Fpasswd/undo").status_code in (404, 422)
    waiting = client.get("/api/moves").json()  # the page offers its Undo from here, whatever it redrew
    assert [(m["log"], m["files"]) for m in waiting] == [(done["log"], 1)]
    back = client.post(f"/api/moves/{done['log']}/undo").json()
    assert back == {"restored": 1, "problems": []} and Path(leaving).exists()
    assert client.get("/api/moves").json() == []  # nothing left to undo
    again = [g for g in client.get("/api/duplicates").json() if g["tier"] == "exact"]
    assert [g["group"] for g in again] == [group["group"]]  # indexed again: the same group
    assert client.post(f"/api/duplicates/{group['group']}/dismiss").json() == {"dismissed": group["group"]}
    assert group["group"] not in [g["group"] for g in client.get("/api/duplicates").json()]
    assert client.post(f"/api/duplicates/{group['group']}/dismiss").status_code == 404  # gone now
