"""The HTTP API, in process: search, upload, items, thumbnails, files, tokens, and attacks on paths."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app, is_loopback

#: The server answers loopback host names only (Starlette's test client says 'testserver').
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from click.testing import CliRunner

    from clipsearch.cli import cli

    root = tmp_path_factory.mktemp("served")
    generate_folder(root / "shapes", per_class=2, seed=3)
    home = root / "home"
    args = ["index", str(root / "shapes"), "--home", str(home), "--model", "tiny-shapes", "--ocr", "none"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root, IndexLocation(home, "default")


@pytest.fixture(scope="module")
def client(served):
    from fastapi.testclient import TestClient

    return TestClient(create_app(served[1], max_upload_bytes=200_000), base_url=LOCAL)


def _name(result: dict) -> str:
    return Path(result["path"]).stem.rsplit("_", 1)[0]


def test_search_and_item_endpoints(client):
    hits = client.get("/api/search", params={"q": "a blue star", "k": 2}).json()["results"]
    assert [_name(h) for h in hits] == ["blue_star", "blue_star"]
    first = hits[0]
    assert first["thumbnail"] == f"/api/items/{first['id']}/thumbnail"
    item = client.get(f"/api/items/{first['id']}").json()
    assert item["path"] == first["path"] and "doctype" in item["categories"]
    similar = client.get(f"/api/items/{first['id']}/similar", params={"k": 3}).json()["results"]
    assert first["id"] not in [h["id"] for h in similar] and _name(similar[0]) == "blue_star"
    assert client.get("/api/status").json()["model"] == "tiny-shapes"
    assert "paths" in client.get("/openapi.json").json()
    assert {f["name"] for f in client.get("/api/categories").json()} == {"doctype"}
    groups = client.get("/api/duplicates").json()  # flat shapes on plain backgrounds can match perceptually
    assert all(m["thumbnail"].endswith("/thumbnail") and "path" in m for g in groups for m in g["items"])
    empty = client.get("/api/search", params={"q": ""})  # nothing to search for: said, not a crash
    assert empty.status_code == 400 and "give a query" in empty.json()["error"]
    part = client.get(f"/api/items/{first['id']}/similar", params={"k": 3, "box": "0,0,1,1"}).json()["results"]
    assert first["id"] not in [h["id"] for h in part] and _name(part[0]) == "blue_star"  # the whole, as a box
    for box in ("0.2,0,1.5,1", "0.5,0.5,0.5,0.9", "left half"):  # outside the picture, empty, not numbers
        wrong = client.get(f"/api/items/{first['id']}/similar", params={"box": box})
        assert wrong.status_code == 400 and wrong.json()["error"].startswith("box "), box


def test_thumbnail_is_generated_once_and_file_is_the_original(client, served):
    hit = client.get("/api/search", params={"q": "a red circle", "k": 1}).json()["results"][0]
    thumb = client.get(hit["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(thumb.content))
    assert max(image.size) <= 256
    cached = list((served[1].path / "thumbnails").glob(f"{hit['id']}-*.webp"))
    assert len(cached) == 1 and cached[0].read_bytes() == thumb.content
    cached[0].write_bytes(thumb.content[: len(thumb.content) // 2])  # a copy cut short (a full disk, a crash)
    again = client.get(hit["thumbnail"])
    assert again.status_code == 200 and again.content == thumb.content == cached[0].read_bytes()  # drawn anew
    original = client.get(hit["file"])
    assert original.content == Path(hit["path"]).read_bytes()


def test_upload_search_size_limit_and_bomb(client, served):
    query = next((served[0] / "shapes").glob("green_square_00.*"))
    hits = client.post("/api/similar", params={"k": 2}, content=query.read_bytes()).json()["results"]
    assert [_name(h) for h in hits] == ["green_square", "green_square"]
    big = client.post("/api/similar", content=b"x" * 300_000)
    assert big.status_code == 413
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 400 MP declared, ~50 KB
    refused = client.post("/api/similar", content=bomb.getvalue())
    assert refused.status_code == 400 and "too large" in refused.json()["error"]
    junk = client.post("/api/similar", content=b"<html>")
    assert junk.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/api/items/..%2F..%2F..%2Fetc%2Fpasswd/file",
        "/api/items/../../../../etc/passwd",
        "/api/items/%2Fetc%2Fpasswd/file",
        "/api/items/1%2F..%2F..%2Fetc%2Fpasswd/file",
        "/api/items//etc/passwd/file",
        "/api/items/-1/file",
        "/api/items/99999/file",
        "/api/items/1.5/thumbnail",
    ],
)
def test_no_path_reaches_a_file_outside_the_catalog(client, url):
    response = client.get(url)
    assert response.status_code in {404, 405, 422}
    assert b"root:" not in response.content


def test_a_file_swapped_for_a_symlink_is_not_served(client, served, tmp_path):
    hit = client.get("/api/search", params={"q": "a yellow cross", "k": 1}).json()["results"][0]
    path = Path(hit["path"])
    backup = tmp_path / "backup"
    path.rename(backup)
    os.symlink("/etc/passwd", path)
    try:
        response = client.get(hit["file"])
        assert response.status_code == 404 and b"root:" not in response.content
        assert client.get(hit["thumbnail"]).status_code == 404  # checked before any cached thumbnail
    finally:
        path.unlink()
        backup.rename(path)


def test_token_is_required_when_set(served):
    from fastapi.testclient import TestClient

    secured = TestClient(create_app(served[1], token="s3cret"), base_url=LOCAL)
    assert secured.get("/api/status").status_code == 401
    assert secured.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert secured.get("/api/status", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert secured.get("/api/status", params={"token": "s3cret"}).status_code == 200
    assert secured.get("/").status_code == 200  # the page itself holds no data


def test_concurrent_requests_are_safe(client):
    errors: list[str] = []

    def worker(q: str) -> None:
        for _ in range(5):
            r = client.get("/api/search", params={"q": q, "k": 3})
            if r.status_code != 200 or len(r.json()["results"]) != 3:
                errors.append(f"{q}: {r.status_code}")

    threads = [threading.Thread(target=worker, args=(f"a {c} circle",)) for c in ("red", "blue", "green", "purple")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_non_loopback_without_token_warns(served, monkeypatch):
    import uvicorn
    from click.testing import CliRunner

    from clipsearch.cli import cli

    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **k: None)
    home = str(served[1].home)
    warned = CliRunner().invoke(cli, ["serve", "--home", home, "--host", "0.0.0.0", "--port", "0"])
    assert warned.exit_code == 0 and "without --token" in warned.stderr
    quiet = CliRunner().invoke(cli, ["serve", "--home", home, "--port", "0"])
    assert "without --token" not in quiet.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_port_zero_prints_the_real_port_and_a_busy_port_is_one_line(served):
    """`serve --port 0` says the port it got, and answers there; a second server on that port stops
    at once with one line and its own exit code, before printing that it serves."""
    import re
    import subprocess
    import sys
    import urllib.request

    exe = str(Path(sys.executable).parent / "clipsearch")
    home = str(served[1].home)
    first = subprocess.Popen([exe, "serve", "--home", home, "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = first.stderr.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
        assert port != 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=60) as answer:
            assert answer.status == 200
        second = subprocess.run(
            [exe, "serve", "--home", home, "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    finally:
        first.terminate()
        first.wait(30)
    assert second.returncode == 9
    assert second.stderr.strip().count("\n") == 0 and "already in use" in second.stderr
    assert "serving" not in second.stderr and "Traceback" not in second.stderr
