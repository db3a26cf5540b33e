"""`make screenshots`: the web page as a user sees it, light and dark, into docs/screenshots/.

A library of the project's corpus (photos, drawings, PDFs: tests/corpus, see its LICENSES.md) and
generated shapes with a copy and a revision, indexed with the offline ``tiny-shapes`` model and OCR,
served on a free port with changes allowed, photographed by headless Chromium (Debian's
``chromium`` + ``chromium-driver``): the start page, a result page, the viewer, the duplicates.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def library(root: Path) -> Path:
    """The files: corpus photos, drawings and PDFs, shapes, a byte copy, a revised PDF."""
    from samples import text_pdf

    from clipsearch.models.demo_shapes import generate_folder

    corpus = ROOT / "tests" / "corpus"
    for part in ("photos", "drawings", "documents"):
        shutil.copytree(corpus / part, root / part, ignore=shutil.ignore_patterns("*.csv", "*.json"))
    generate_folder(root / "shapes", per_class=3, seed=8)
    text_pdf(root / "specs" / "spec.pdf", ["Bracket specification ZX-9 steel"])
    text_pdf(root / "specs" / "revised" / "spec.pdf", ["Bracket specification ZX-7 steel"])
    shutil.copy(root / "photos" / "coffee.png", root / "photos" / "coffee copy.png")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def browser(profile: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1360,860", f"--user-data-dir={profile}"]:  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)


def shoot(url: str, driver) -> list[Path]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 120)
    cards = lambda d: d.find_elements(By.CSS_SELECTOR, "#grid .card")  # noqa: E731
    pictures = "return [...document.querySelectorAll('#grid .card img')].slice(0, 12).every(i => i.complete)"
    shots = []
    OUT.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": scheme}]})  # fmt: skip
        views = [
            ("start", url, lambda d: cards(d) and d.find_element(By.ID, "library").text),
            ("results", url + "?q=a%20technical%20drawing", lambda d: cards(d)),
            ("viewer", url + "?q=text%3A%22ZX-9%22", None),
            ("duplicates", url + "?view=duplicates", lambda d: "groups" in d.find_element(By.ID, "status").text),
        ]
        for name, address, ready in views:
            driver.get(address)
            if ready is None:  # the first result, opened
                wait.until(cards)
                cards(driver)[0].click()
                wait.until(lambda d: "folder" in d.find_element(By.ID, "info").text
                           and d.execute_script("return document.getElementById('big').complete"))  # fmt: skip
            else:
                wait.until(ready)
                wait.until(lambda d: d.execute_script(pictures))
            time.sleep(0.3)
            shots.append(OUT / f"{name}-{scheme}.png")
            driver.save_screenshot(str(shots[-1]))
    return shots


def main() -> None:
    import uvicorn
    from click.testing import CliRunner

    from clipsearch.cli import cli
    from clipsearch.config import IndexLocation
    from clipsearch.server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        root = library(Path(tmp) / "library")
        home = Path(tmp) / "home"
        args = ["index", str(root), "--home", str(home), "--model", "tiny-shapes", "--ocr", "auto"]
        result = CliRunner().invoke(cli, args)
        if result.exit_code:
            raise SystemExit(result.output)
        app = create_app(IndexLocation(home, "default"), changes_to=str(Path(tmp) / "moved"))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        driver = browser(Path(tmp) / "profile")
        try:
            for shot in shoot(f"http://127.0.0.1:{port}/", driver):
                print(shot.relative_to(ROOT))
        finally:
            driver.quit()
            server.should_exit = True


if __name__ == "__main__":
    main()
