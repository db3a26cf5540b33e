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
from tests.helpers import scan
from tools.samples import text_pdf, two_shapes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-output"

if not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip


#: The index folder the page serves (for tests that also run the command line on it).
HOMES: dict[str, Path] = {}


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
    two_shapes(root / "shapes" / "pair.png")  # a red circle left, a blue star right: a search by a part
    scan(root / "shapes" / "bracket-scan.png", ["Bracket, steel", "Part number KX-2291-B", "Scale 1:2"])
    text_pdf(root / "shapes" / "revised" / "spec.pdf", ["Bracket specification ZX-7 steel"])  # a revision
    shutil.copy(next((root / "shapes").glob("red_circle_00.*")), root / "shapes" / "revised")  # a copy
    home = root / "home"
    HOMES["server"] = home
    args = ["index", str(root / "shapes"), "--home", str(home), "--model", "tiny-shapes", "--ocr", "auto"]
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # script errors, read by script_errors()
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
    box.send_keys("a blue star", Keys.ENTER)  # the start page shows the library: wait for this answer
    wait.until(lambda d: "a blue star" in d.find_element(By.ID, "status").text)
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
    wait.until(lambda d: "similar to green_square" in d.find_element(By.ID, "status").text)  # named, not an id
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
    from selenium.webdriver.support.ui import Select, WebDriverWait

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
    # the toggles live in the address too: newest first, only what the model calls a match
    Select(browser.find_element(By.ID, "sort")).select_by_value("date")
    browser.find_element(By.ID, "relevant").click()
    wait.until(lambda d: "sort=date" in d.current_url and "relevant=1" in d.current_url)
    browser.get(browser.current_url)
    wait.until(lambda d: d.find_element(By.ID, "relevant").is_selected())
    assert browser.find_element(By.ID, "sort").get_attribute("value") == "date"


def _api(server: str, path: str) -> object:
    import json
    import urllib.request

    with urllib.request.urlopen(server + path.lstrip("/"), timeout=30) as response:
        return json.load(response)


def test_the_map_view_draws_and_a_group_click_filters_the_search(server, browser):
    from urllib.parse import parse_qs, urlparse

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    browser.find_element(By.ID, "mapbtn").click()
    wait.until(lambda d: "groups" in d.find_element(By.ID, "status").text)
    assert "view=map" in browser.current_url
    painted = """const c = document.getElementById('mapcanvas'), x = c.getContext('2d');
        const px = x.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n;"""
    wait.until(lambda d: d.execute_script(painted) > 2000)  # points and group names drawn
    labels = browser.execute_script("return drawn.labels().map(([c, b]) => [c.id, c.label, b])")
    assert labels
    group, _, (bx, by, bw, bh) = max(labels, key=lambda lab: lab[2][2])
    ratio = browser.execute_script("return window.devicePixelRatio || 1")
    canvas = browser.find_element(By.ID, "mapcanvas")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", canvas)  # all of it in view
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(
        canvas, (bx + bw / 2) / ratio - size["width"] / 2, (by + bh / 2) / ratio - size["height"] / 2
    ).click().perform()
    wait.until(lambda d: "cluster=" in d.current_url and d.find_elements(By.CSS_SELECTOR, "#grid .card"))
    assert parse_qs(urlparse(browser.current_url).query)["cluster"] == [str(group)]
    members = {it["id"] for it in _api(server, "api/map")["items"] if it["cluster"] == group}
    shown = {int(c.get_attribute("data-id")) for c in browser.find_elements(By.CSS_SELECTOR, "#grid .card")}
    assert shown and shown <= members
    assert browser.find_element(By.ID, "chip").is_displayed()
    browser.get(server + "?view=map")
    wait.until(lambda d: d.execute_script(painted) > 2000)
    browser.save_screenshot(str(ARTIFACTS / "browser-map.png"))


def test_a_dragged_box_runs_a_crop_search_whose_address_can_be_shared(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    pair = next(it for it in _api(server, "api/map")["items"] if it["path"].endswith("pair.png"))
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    browser.execute_script(
        "open({id: arguments[0], path: 'pair.png', thumbnail: `/api/items/${arguments[0]}/thumbnail`,"
        " file: `/api/items/${arguments[0]}/file`})", pair["id"])  # fmt: skip
    big = browser.find_element(By.ID, "big")
    wait.until(
        lambda d: d.execute_script("const i = document.getElementById('big'); return i.complete && i.naturalWidth > 0")
    )
    w, h = big.size["width"], big.size["height"]
    (
        ActionChains(browser)
        .move_to_element_with_offset(big, w * 0.05, -h * 0.45)
        .click_and_hold()
        .move_to_element_with_offset(big, w * 0.3, 0)
        .move_to_element_with_offset(big, w * 0.48, h * 0.45)
        .release()
        .perform()
    )  # fmt: skip  (offsets from the centre: the right half)
    wait.until(lambda d: "box=" in d.current_url and "similar to a part" in d.find_element(By.ID, "status").text)
    shared = browser.current_url
    first = browser.find_elements(By.CSS_SELECTOR, "#grid .card")[0].get_attribute("title")
    assert "blue_star" in first
    browser.get(shared)  # the address alone runs the same search
    wait.until(lambda d: "similar to a part" in d.find_element(By.ID, "status").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#grid .card")[0].get_attribute("title") == first


def test_a_text_match_shows_where_its_words_are(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys('text:"KX-2291-B"', Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid .card .snippet mark"))
    browser.find_element(By.CSS_SELECTOR, "#grid .card").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stage .tbox"))
    wait.until(
        lambda d: d.execute_script("const i = document.getElementById('big'); return i.complete && i.naturalWidth > 0")
    )
    marked = browser.find_element(By.CSS_SELECTOR, "#stage .tbox").rect
    picture = browser.find_element(By.ID, "big").rect
    # the line "Part number KX-2291-B" was drawn from x=70 of 1400 and y=170 of 1000
    assert abs((marked["x"] - picture["x"]) / picture["width"] - 70 / 1400) < 0.03
    assert abs((marked["y"] - picture["y"]) / picture["height"] - 170 / 1000) < 0.04
    browser.save_screenshot(str(ARTIFACTS / "browser-text-boxes.png"))


def script_errors(browser) -> list[str]:
    """The page's script errors (and failed loads) since the last call: Chromium's console log."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_duplicates_view_and_report_show_copies_and_revisions_apart(server, browser, tmp_path):
    """The page's duplicates view and the HTML report `duplicates --html` writes, in the browser:
    the byte copy is a group of copies, the revised PDF a revision group that shows the changed
    word; no script error on the page, every picture of the report loads."""
    from click.testing import CliRunner
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from clipsearch.cli import cli

    wait = WebDriverWait(browser, 60)
    browser.get(server)
    wait.until(lambda d: "items" in d.find_element(By.ID, "status").text)
    script_errors(browser)
    browser.find_element(By.ID, "dups").click()
    wait.until(lambda d: "groups" in d.find_element(By.ID, "status").text)
    heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#grid .ghead")]
    assert any(h.startswith("exact") for h in heads) and any(h.startswith("revision") for h in heads), heads
    changed = [(c.find_element(By.TAG_NAME, "del").text, c.find_element(By.TAG_NAME, "ins").text)
               for c in browser.find_elements(By.CSS_SELECTOR, "#grid .why div")]  # fmt: skip
    assert ("7", "9") in changed or ("9", "7") in changed, changed
    assert not script_errors(browser)

    report = tmp_path / "dups.html"
    args = ["duplicates", "--home", str(HOMES["server"]), "--html", str(report), "--json"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    browser.get(report.as_uri())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".m img"))
    pictures = "return [...document.querySelectorAll('.m img')].map(i => i.complete && i.naturalWidth > 0)"
    shown = browser.execute_script(pictures)
    assert len(shown) >= 4 and all(shown)  # PDF pages included: every picture is embedded
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "revisions, not copies" in text and "\u2192" in text  # the changed word, old to new
    assert not script_errors(browser)


def test_the_map_file_draws_in_the_browser(server, browser, tmp_path):
    """`map --html FILE` writes one page that draws the map with no script error."""
    from click.testing import CliRunner
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from clipsearch.cli import cli

    target = tmp_path / "map.html"
    assert CliRunner().invoke(cli, ["map", "--home", str(HOMES["server"]), "--html", str(target)]).exit_code == 0
    browser.get(target.as_uri())
    painted = """const c = document.getElementById('map'), x = c.getContext('2d');
        const px = x.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n;"""
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(painted) > 2000)
    assert "groups" in browser.find_element(By.ID, "info").text
    assert not script_errors(browser)


def _cards(browser) -> list[str]:
    """The ids of the cards shown, read at one moment (the grid is replaced as answers come)."""
    return browser.execute_script("return [...document.querySelectorAll('#grid .card')].map(c => c.dataset.id)")


def test_the_start_page_shows_the_library_and_results_load_as_the_user_scrolls(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    wait.until(lambda d: "items in" in d.find_element(By.ID, "library").text and _cards(d))
    newest = _api(server, "api/search?q=&sort=date&k=3")["results"]
    assert _cards(browser)[:3] == [str(r["id"]) for r in newest]  # the newest pictures first
    script_errors(browser)
    everything = [str(r["id"]) for r in _api(server, "api/search?q=a%20shape&k=500")["results"]]
    browser.execute_script("pageSize = 5")
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("a shape", Keys.ENTER)
    wait.until(lambda d: "a shape" in d.find_element(By.ID, "status").text)
    assert len(_cards(browser)) < len(everything)  # one page, then more as the user scrolls
    for _ in range(30):
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        if len(_cards(browser)) == len(everything):
            break
        time.sleep(0.2)
    assert _cards(browser) == everything  # every result, in order, none twice
    assert "+" not in browser.find_element(By.ID, "status").text  # the end is said
    assert not script_errors(browser)


def test_a_search_with_no_match_says_so_and_why(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys('text:"QQZ-404"', Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    assert "QQZ-404" in browser.find_element(By.ID, "emptywhy").text and not _cards(browser)
    browser.find_element(By.ID, "browse").click()  # and the way back to the library is one click
    wait.until(lambda d: _cards(d) and not d.find_element(By.ID, "empty").is_displayed())


def test_the_viewer_has_an_address_keys_and_the_facts(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server + "?q=" + "a%20red%20circle")
    wait.until(lambda d: len(_cards(d)) > 3)
    ids = _cards(browser)
    for _ in range(40):  # the keyboard alone reaches a result and opens it
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("class") == "card":
            break
    assert browser.switch_to.active_element.get_attribute("data-id") == ids[0]
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(lambda d: f"item={ids[0]}" in d.current_url and d.find_element(By.ID, "modal").is_displayed())
    wait.until(lambda d: "folder" in d.find_element(By.ID, "info").text)
    assert "type" in browser.find_element(By.ID, "info").text
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: f"item={ids[1]}" in d.current_url)
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    wait.until(lambda d: f"item={ids[0]}" in d.current_url)
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: "item=" not in d.current_url and not d.find_element(By.ID, "modal").is_displayed())
    assert _cards(browser) == ids  # closing keeps the results as they were
    browser.find_elements(By.CSS_SELECTOR, "#grid .card")[2].click()
    wait.until(lambda d: f"item={ids[2]}" in d.current_url)
    browser.back()  # the back button closes it too
    wait.until(lambda d: not d.find_element(By.ID, "modal").is_displayed())
    browser.forward()  # and its address opens it again
    wait.until(
        lambda d: d.find_element(By.ID, "modal").is_displayed() and "folder" in d.find_element(By.ID, "info").text
    )
    browser.get(f"{server}?q=a%20red%20circle&item={ids[1]}")  # a shared address: the viewer on its list
    wait.until(lambda d: d.find_element(By.ID, "modal").is_displayed())
    wait.until(lambda d: d.find_element(By.ID, "prev").is_enabled() and d.find_element(By.ID, "next").is_enabled())
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: f"item={ids[2]}" in d.current_url)
    browser.get(f"{server}?item=999999")  # an address to an item no longer there says so
    wait.until(lambda d: "no item 999999" in d.find_element(By.ID, "error").text)
    script_errors(browser)  # the 404 itself is logged by the browser
    pdf = _api(server, "api/search?q=" + "text:ZX-9")["results"][0]
    browser.get(f"{server}?item={pdf['id']}")  # a page of a PDF, shown at the screen's size
    loaded = "const i = document.getElementById('big'); return i.complete && i.naturalWidth"
    wait.until(lambda d: d.execute_script(loaded))
    assert browser.execute_script(loaded) > 700 and "ZX-9" in browser.find_element(By.ID, "text").get_attribute(
        "textContent"
    )
    assert not script_errors(browser)


def test_filter_controls_write_the_search_line(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server + "?q=" + "a%20shape")
    wait.until(lambda d: _cards(d))
    browser.find_element(By.CSS_SELECTOR, "#filterbox summary").click()
    kind = browser.find_element(By.ID, "f-type")
    kind.send_keys("pdf")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", kind)
    wait.until(lambda d: "type:pdf" in d.find_element(By.ID, "q").get_attribute("value"))
    wait.until(lambda d: _cards(d) and all(".pdf" in c.get_attribute("title")
                                           for c in d.find_elements(By.CSS_SELECTOR, "#grid .card")))  # fmt: skip
    assert "type: pdf" in browser.find_element(By.ID, "readas").text
    names = [i.get_attribute("alt") for i in browser.find_elements(By.CSS_SELECTOR, "#grid .card img")]
    assert all(names)  # every picture has its alt text


CONTRAST = """
function rgb(c) { const m = c.match(/[\\d.]+/g).map(Number); return m.slice(0, 3); }
function lum(c) { return rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
                                .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0); }
function bg(el) {
  for (; el; el = el.parentElement) {
    const b = getComputedStyle(el).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(b) && b !== 'transparent') return b;
  }
  return 'rgb(255,255,255)';
}
const out = {};
for (const sel of arguments[0]) { const el = document.querySelector(sel); if (!el) continue;
  const a = lum(getComputedStyle(el).color), b = lum(bg(el));
  out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }
out.body = lum(getComputedStyle(document.body).backgroundColor);
return out;
"""


def test_dark_mode_follows_the_system_and_both_themes_are_readable(server, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    parts = ["#grid .card .name", "#grid .card .taken", "#grid .card .score", "#status", "#filters label", "#q"]
    seen = {}
    try:
        for scheme in ("light", "dark"):
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                    {"features": [{"name": "prefers-color-scheme", "value": scheme}]})  # fmt: skip
            browser.get(server + "?q=" + "a%20blue%20star")
            wait.until(lambda d: _cards(d))
            seen[scheme] = browser.execute_script(CONTRAST, parts)
            browser.save_screenshot(str(ARTIFACTS / f"browser-results-{scheme}.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert seen["light"]["body"] > 0.8 and seen["dark"]["body"] < 0.05  # the page follows the system
    for scheme, ratios in seen.items():
        low = {k: round(v, 2) for k, v in ratios.items() if k != "body" and v < 4.5}
        assert not low, (scheme, low)  # WCAG AA for text
