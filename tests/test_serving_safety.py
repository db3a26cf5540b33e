"""The server as a hostile client and a hostile neighbour meet it: a real server on a real socket.

A symlink flipped in and out while clients fetch, links that leave the indexed folders, Host
headers of other sites, cross-site writes, ids past 64 bits, relative folders, PDFs as queries.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from clipsearch.cli import cli
from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app
from tools.samples import text_pdf


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Served:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _index(home: Path, *paths: Path | str, extra: tuple[str, ...] = ()) -> dict:
    import json

    args = ["index", *map(str, paths), "--home", str(home), "--model", "tiny-shapes", "--ocr", "none", "--json", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _ids(client: httpx.Client) -> dict[str, int]:
    hits = client.get("/api/search", params={"q": "a shape", "k": 100}).json()["results"]
    return {Path(h["path"]).name: h["id"] for h in hits}


@pytest.fixture
def swap_folder(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """An indexed folder with swapme.png, and a secret outside it of the very same size and mtime."""
    folder = tmp_path / "pictures"
    generate_folder(folder, per_class=1, seed=5)
    real = folder / "swapme.png"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(real)
    data = real.read_bytes()
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    marker = b"SECRET-OUTSIDE-THE-INDEX:"
    secret.write_bytes((marker * (len(data) // len(marker) + 1))[: len(data)])
    st = real.stat()
    os.utime(secret, ns=(st.st_atime_ns, st.st_mtime_ns))
    return folder, secret, data


def test_a_symlink_flipped_in_during_fetches_never_serves_a_byte_from_outside(tmp_path, swap_folder):
    folder, secret, data = swap_folder
    home = tmp_path / "home"
    _index(home, folder)
    real = folder / "swapme.png"
    copy = tmp_path / "swapme-copy.png"
    shutil.copy2(real, copy)
    stop = threading.Event()
    flips = 0

    def flipper() -> None:
        nonlocal flips
        while not stop.is_set():
            link = folder / ".swap-link"
            os.symlink(secret, link)
            os.replace(link, real)  # now a symlink to the secret, same size and mtime
            back = folder / ".swap-back"
            shutil.copy2(copy, back)
            os.replace(back, real)  # the real file again
            flips += 1

    outcomes: dict[str, int] = {"real": 0, "refused": 0, "leaked": 0, "other": 0}
    lock = threading.Lock()

    def fetcher(url: str, item: int, until: float) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while time.monotonic() < until:
                r = client.get(f"/api/items/{item}/file")
                kind = (
                    "leaked" if b"SECRET" in r.content else "real" if r.status_code == 200 and r.content == data
                    else "refused" if r.status_code == 404 else "other"
                )  # fmt: skip
                with lock:
                    outcomes[kind] += 1

    with _Served(create_app(IndexLocation(home, "default"))) as served:
        with httpx.Client(base_url=served.url) as client:
            item = _ids(client)["swapme.png"]
        flip = threading.Thread(target=flipper)
        flip.start()
        until = time.monotonic() + 4.0
        workers = [threading.Thread(target=fetcher, args=(served.url, item, until)) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        flip.join()
    print(f"symlink race: {flips} flips, responses {outcomes}")
    assert outcomes["leaked"] == 0
    assert outcomes["other"] == 0
    assert outcomes["real"] > 0 and outcomes["refused"] > 0  # both states were met while fetching


def test_links_out_of_the_folders_are_skipped_and_not_served_unless_asked(tmp_path, swap_folder):
    folder, _, _ = swap_folder
    outside = tmp_path / "outside" / "elsewhere.png"
    Image.new("RGB", (40, 40), (200, 0, 0)).save(outside)
    os.symlink(outside, folder / "link-out.png")
    Image.new("RGB", (40, 40), (0, 0, 200)).save(folder / "inner.png")
    os.symlink(folder / "inner.png", folder / "link-in.png")
    home = tmp_path / "home"
    report = _index(home, folder)
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert "outside the folders given" in reasons["link-out.png"]
    assert "link-in.png" not in reasons  # a link that stays inside is indexed as before
    followed = _index(home, folder, extra=("--follow-links",))
    assert followed["added"] == 1
    app = create_app(IndexLocation(home, "default"))
    with _Served(app) as served, httpx.Client(base_url=served.url) as client:
        ids = _ids(client)
        assert client.get(f"/api/items/{ids['link-in.png']}/file").status_code == 200
        refused = client.get(f"/api/items/{ids['link-out.png']}/file")
        assert refused.status_code == 404 and "outside the indexed folders" in refused.json()["error"]
        assert client.get(f"/api/items/{ids['link-out.png']}/thumbnail").status_code == 404
    lenient = create_app(IndexLocation(home, "default"), follow_links=True)
    with _Served(lenient) as served, httpx.Client(base_url=served.url) as client:
        r = client.get(f"/api/items/{_ids(client)['link-out.png']}/file")
        assert r.status_code == 200 and r.content == outside.read_bytes()


def test_hosts_of_other_sites_and_cross_site_writes_are_refused(tmp_path):
    generate_folder(tmp_path / "shapes", per_class=1, seed=2)
    home = tmp_path / "home"
    _index(home, tmp_path / "shapes")
    app = create_app(IndexLocation(home, "default"), allow_hosts=("photos.lan",))
    with _Served(app) as served, httpx.Client(base_url=served.url) as client:
        item = next(iter(_ids(client).values()))
        evil = client.get(f"/api/items/{item}/file", headers={"Host": "evil.example.com"})
        assert evil.status_code == 421 and "--allow-host" in evil.text
        assert client.get("/api/status", headers={"Host": f"evil.example.com:{served.port}"}).status_code == 421
        for host in (f"localhost:{served.port}", f"127.0.0.1:{served.port}", "photos.lan", "app.localhost"):
            assert client.get(f"/api/items/{item}/file", headers={"Host": host}).status_code == 200, host
        upload = (tmp_path / "shapes").glob("*.png").__next__().read_bytes()
        cross = client.post("/api/similar", content=upload, headers={"Origin": "http://evil.example.com"})
        assert cross.status_code == 403
        fetch_meta = client.post("/api/similar", content=upload, headers={"Sec-Fetch-Site": "cross-site"})
        assert fetch_meta.status_code == 403
        own = client.post("/api/similar", content=upload, headers={"Origin": served.url})
        assert own.status_code == 200 and own.json()["results"]
        for headers in ({"Origin": "http://evil.example.com"}, {"Sec-Fetch-Site": "cross-site"}):
            stall = client.get("/api/map", params={"rebuild": "true"}, headers=headers)  # redraws, rewrites
            assert stall.status_code == 403, headers
        assert client.get("/api/status", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200  # a read


def test_odd_ids_relative_folders_and_pdf_queries(tmp_path):
    generate_folder(tmp_path / "shapes", per_class=1, seed=2)
    text_pdf(tmp_path / "shapes" / "spec.pdf", ["Bracket specification ZX-9 steel"])
    home = tmp_path / "home"
    _index(home, tmp_path / "shapes")
    with _Served(create_app(IndexLocation(home, "default"))) as served, httpx.Client(base_url=served.url) as client:
        for suffix in ("", "/file", "/thumbnail", "/similar"):
            for odd in ("9223372036854775808", "-1", "0"):
                r = client.get(f"/api/items/{odd}{suffix}")
                assert r.status_code in (404, 422), (odd, suffix, r.status_code)
        r = client.get("/api/search", params={"q": "a shape under:shapes"})
        assert r.status_code == 400 and "absolute" in r.json()["error"]
        r = client.get("/api/search", params={"q": f"a shape under:{tmp_path / 'shapes'}"})
        assert r.status_code == 200 and r.json()["results"]
        r = client.get("/api/search", params={"q": "-circle"})
        assert r.status_code == 400 and "--" not in r.json()["error"]
        pdf = (tmp_path / "shapes" / "spec.pdf").read_bytes()
        hits = client.post("/api/similar", content=pdf).json()["results"]
        assert hits[0]["path"].endswith("spec.pdf")  # the page itself comes back first
        broken = client.post("/api/similar", content=b"%PDF-1.4 nothing else")
        assert broken.status_code == 400


def test_a_thumbnail_is_drawn_from_the_checked_file(tmp_path):
    """Thumbnails read the descriptor that was checked (PDF pages and images alike)."""
    generate_folder(tmp_path / "shapes", per_class=1, seed=4)
    text_pdf(tmp_path / "shapes" / "spec.pdf", ["Bracket specification ZX-9 steel"])
    home = tmp_path / "home"
    _index(home, tmp_path / "shapes")
    with _Served(create_app(IndexLocation(home, "default"))) as served, httpx.Client(base_url=served.url) as client:
        for name, item in _ids(client).items():
            r = client.get(f"/api/items/{item}/thumbnail")
            assert r.status_code == 200, name
            assert Image.open(io.BytesIO(r.content)).format == "WEBP"


def test_the_search_line_never_reads_a_picture_on_the_servers_disk(tmp_path):
    """A path in the search line is words, not that picture: a picture outside the library (a
    byte copy of an indexed one) is neither read nor matched, and a path that exists answers as
    one that does not (no client learns which files are there). The command line still takes a
    picture's path as a query."""
    generate_folder(tmp_path / "shapes", per_class=1, seed=3)
    home = tmp_path / "home"
    _index(home, tmp_path / "shapes")
    outside = tmp_path / "elsewhere" / "private.png"
    outside.parent.mkdir()
    shutil.copy(next((tmp_path / "shapes").glob("red_circle_00.*")), outside)
    with _Served(create_app(IndexLocation(home, "default"))) as served, httpx.Client(base_url=served.url) as client:
        answers = {}
        for q in (str(outside), str(outside) + ".missing"):
            for extra in ({}, {"relevant": "true"}, {"documents": "true"}):
                r = client.get("/api/search", params={"q": q, "k": 5, **extra})
                answers[(q.endswith(".missing"), tuple(extra))] = r.status_code, len(r.json()["results"])
                assert r.status_code == 200, r.text
                assert (
                    not r.json()["results"] or r.json()["results"][0]["score"] < 0.99
                )  # the file itself would match at ~1.0
        assert all(answers[(False, e)] == answers[(True, e)] for e in ((), ("relevant",), ("documents",)))
    result = CliRunner().invoke(cli, ["search", str(outside), "--home", str(home), "--json", "-k", "1"])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["score"] > 0.99


def test_the_index_never_indexes_its_own_folder(tmp_path):
    """Indexing a folder that holds the index (its thumbnails) passes over the index's folder;
    a folder inside the index is refused in one line."""
    generate_folder(tmp_path / "lib" / "shapes", per_class=1, seed=4)
    home = tmp_path / "lib" / "indexes"
    first = _index(home, tmp_path / "lib")
    with _Served(create_app(IndexLocation(home, "default"))) as served, httpx.Client(base_url=served.url) as client:
        for item in _ids(client).values():  # thumbnails made in the index's folder
            client.get(f"/api/items/{item}/thumbnail")
    assert list((home / "default").rglob("*.webp"))
    again = _index(home, tmp_path / "lib")
    assert again["added"] == 0 and again["items"] == first["items"]
    inside = CliRunner().invoke(cli, ["index", str(home / "default"), "--home", str(home), "--model", "tiny-shapes"])
    assert inside.exit_code == 2 and "own folder" in inside.output and "Traceback" not in inside.output
    # another index beside it (its thumbnails too): passed over from above, refused from inside
    other = _index(home, tmp_path / "lib" / "shapes", extra=("--index", "other"))
    with _Served(create_app(IndexLocation(home, "other"))) as served, httpx.Client(base_url=served.url) as client:
        for item in _ids(client).values():
            client.get(f"/api/items/{item}/thumbnail")
    assert other["items"] and list((home / "other").rglob("*.webp"))
    third = _index(home, tmp_path / "lib")
    assert third["added"] == 0 and third["items"] == first["items"]
    sibling = CliRunner().invoke(cli, ["index", str(home / "other" / "thumbnails"), "--home", str(home)])
    assert sibling.exit_code == 2 and "inside an index folder" in sibling.output
