"""`search --preview`: results drawn in the terminal, in the protocol the terminal speaks."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from clipsearch.cli.preview import detect, render


def _picture() -> Image.Image:
    image = Image.new("RGB", (64, 32), (255, 0, 0))
    image.paste((0, 0, 255), (32, 0, 64, 32))  # left red, right blue
    return image


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({"TERM": "xterm-kitty"}, True, "kitty"),
        ({"KITTY_WINDOW_ID": "1", "TERM": "xterm-256color"}, True, "kitty"),
        ({"TERM_PROGRAM": "iTerm.app"}, True, "iterm"),
        ({"TERM_PROGRAM": "WezTerm"}, True, "iterm"),
        ({"TERM": "foot"}, True, "sixel"),
        ({"TERM": "xterm-256color"}, True, "blocks"),
        ({"TERM": "xterm-kitty"}, False, None),  # not a terminal: no pictures unless forced
        ({"CLIPSEARCH_PREVIEW": "sixel", "TERM": "xterm-kitty"}, False, "sixel"),
    ],
)
def test_the_protocol_comes_from_the_terminal_unless_forced(env, tty, expected):
    assert detect(env, is_terminal=tty) == expected


def test_kitty_sends_the_png_in_chunks():
    out = render(_picture(), "kitty", cells=8)
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", out)
    assert chunks and chunks[0][0].startswith("a=T,f=100,c=8,") and chunks[-1][0].endswith("m=0")
    png = Image.open(io.BytesIO(base64.b64decode("".join(c for _, c in chunks))))
    assert png.format == "PNG" and png.getpixel((0, 0)) == (255, 0, 0)


def test_iterm_sends_an_inline_file():
    out = render(_picture(), "iterm", cells=8)
    m = re.fullmatch(r"\x1b\]1337;File=inline=1;width=8;preserveAspectRatio=1;size=(\d+):([A-Za-z0-9+/=]+)\x07\n", out)
    assert m and int(m[1]) == len(base64.b64decode(m[2]))


def test_sixel_has_a_palette_and_bands_of_six_rows():
    out = render(_picture(), "sixel", cells=8)
    assert out.startswith("\x1bPq") and out.rstrip("\n").endswith("\x1b\\")
    colours = re.findall(r"#(\d+);2;(\d+);(\d+);(\d+)", out)
    assert ("100", "0", "0") in [c[1:] for c in colours] and ("0", "0", "100") in [c[1:] for c in colours]
    assert out.count("-") >= 32 // 6  # one band per six pixel rows


def test_blocks_draw_two_pixels_a_cell_in_true_colour():
    out = render(_picture(), "blocks", cells=8)
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 2 and all(line.count("▀") == 8 for line in lines)
    assert lines[0].startswith("\x1b[38;2;255;0;0m\x1b[48;2;255;0;0m▀") and "\x1b[38;2;0;0;255m" in lines[0]


def test_search_preview_draws_each_result_under_its_path(cli, photos, monkeypatch):
    cli("index", str(photos), "--model", "tiny-shapes")
    for protocol, mark in (("kitty", "\x1b_G"), ("iterm", "\x1b]1337;File="), ("sixel", "\x1bPq"), ("blocks", "▀")):
        monkeypatch.setenv("CLIPSEARCH_PREVIEW", protocol)
        out = cli("search", "a cat", "-k", "3", "--preview").stdout
        rows = [i for i, line in enumerate(out.splitlines()) if re.match(r"\s+\d+\s+-?\d", line)]
        assert len(rows) == 3 and out.count(mark) >= 3, protocol
    assert "\x1b" not in cli("search", "a cat", "-k", "3", "--preview", "--json").stdout  # JSON stays clean
