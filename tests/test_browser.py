"""The web page in a real browser: headless Chromium (Debian's) driven by Selenium.

.ci/run installs chromium and chromium-driver; on a developer machine without them the test is
skipped, but under CI a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app
from tests.test_text_search import text_pdf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-output"

if not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn
    from click.testing import CliRunner

    from clipsearch.cli import cli

    root = tmp_path_factory.mktemp("browser")
    generate_folder(root / "shapes", per_class=3, seed=8)
    text_pdf(root / "shapes" / "spec.pdf", ["Bracket specification ZX-9 steel"])
    home = root / "home"
    args = ["index", str(root / "shapes"), "--home", str(home), "--model", "tiny-shapes", "--ocr", "none"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    port = _free_port()
    app = create_app(IndexLocation(home, "default"))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    assert CHROMIUM and CHROMEDRIVER, "CI must install chromium and chromium-driver (.ci/run does)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_search_then_find_similar_in_the_page(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    box = browser.find_element(By.ID, "q")
    box.send_keys("a blue star", Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#grid .card")) > 0)
    cards = browser.find_elements(By.CSS_SELECTOR, "#grid .card")
    assert "blue_star" in cards[0].get_attribute("title")
    loaded = "return [...document.querySelectorAll('#grid .card img')].slice(0, 3)"
    loaded += ".every(i => i.complete && i.naturalWidth > 0)"
    wait.until(lambda d: d.execute_script(loaded))  # the thumbnails really loaded
    before = [c.get_attribute("data-id") for c in cards]

    browser.execute_script("document.getElementById('q').value = ''")
    box.send_keys("a green square", Keys.ENTER)
    first_title = "return document.querySelector('#grid .card').title"
    wait.until(lambda d: "green_square" in (d.execute_script(first_title) or ""))
    green = browser.find_elements(By.CSS_SELECTOR, "#grid .card")[0]
    green_id = green.get_attribute("data-id")
    green.click()
    wait.until(ec.visibility_of_element_located((By.ID, "similar")))
    assert "green_square" in browser.find_element(By.ID, "info").text
    browser.find_element(By.ID, "similar").click()
    wait.until(lambda d: "similar to item" in d.find_element(By.ID, "status").text)
    after = browser.find_elements(By.CSS_SELECTOR, "#grid .card")
    ids = [c.get_attribute("data-id") for c in after]
    assert ids != before and green_id not in ids  # the grid changed; the query item is left out
    assert "green_square" in after[0].get_attribute("title")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "browser-find-similar.png"))
    assert (ARTIFACTS / "browser-find-similar.png").stat().st_size > 10_000


def test_the_search_lives_in_the_address_and_shows_the_text_found(server, browser):
    from urllib.parse import parse_qs, quote, urlparse

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys('text:"ZX-9" after:1990', Keys.ENTER)
    wait.until(lambda d: "q=" in d.current_url)
    assert parse_qs(urlparse(browser.current_url).query)["q"] == ['text:"ZX-9" after:1990']
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid .card .snippet mark"))
    assert browser.find_element(By.CSS_SELECTOR, "#grid .card .snippet mark").text == "ZX-9"
    assert "spec.pdf" in browser.find_element(By.CSS_SELECTOR, "#grid .card").get_attribute("title")
    # a shared link: the same search runs on load, box filled in
    browser.get(server + "?q=" + quote('text:"ZX-9"'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid .card .snippet mark"))
    assert browser.find_element(By.ID, "q").get_attribute("value") == 'text:"ZX-9"'
    assert browser.find_element(By.CSS_SELECTOR, "#grid .card .taken").text[:2] in ("19", "20")
