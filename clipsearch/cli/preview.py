"""Results drawn as pictures in the terminal (``search`` / ``similar --preview``), as rclip does.

Four ways to draw, the best the terminal speaks:
- **kitty**: kitty's graphics protocol (kitty, WezTerm, Konsole, Ghostty): PNG, base64, in chunks;
- **iterm**: iTerm2's inline images (iTerm2, WezTerm, VS Code's terminal);
- **sixel**: DEC sixel graphics (foot, mlterm, xterm -ti vt340, Windows Terminal): a palette of 64
  colours, six pixel rows per line of text;
- **blocks**: Unicode upper half blocks with 24-bit colours, two pixels per cell: any modern terminal.
The protocol is read from the environment (``TERM``, ``TERM_PROGRAM``, ``KITTY_WINDOW_ID``...);
``CLIPSEARCH_PREVIEW=kitty|iterm|sixel|blocks`` forces one, even when the output is not a terminal.
Written here rather than taken from a library: each protocol is a few lines of Pillow, and the
libraries that draw them (term-image, textual-image) each lack one of the four.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Mapping
from typing import Any

PROTOCOLS = ("kitty", "iterm", "sixel", "blocks")
ENV = "CLIPSEARCH_PREVIEW"
#: Width of a preview in terminal cells; a cell is about twice as high as wide.
CELLS = 32


def detect(env: Mapping[str, str] | None = None, is_terminal: bool = True) -> str | None:
    """The protocol to draw with, or None when output is not a terminal and nothing is forced."""
    env = os.environ if env is None else env
    forced = (env.get(ENV) or "").strip().lower()
    if forced:
        if forced not in PROTOCOLS:
            from ..errors import UsageError

            raise UsageError(f"{ENV} must be one of {', '.join(PROTOCOLS)}, not {forced!r}")
        return forced
    if not is_terminal:
        return None
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("KITTY_WINDOW_ID") or "kitty" in term or "ghostty" in term or program in ("ghostty",):
        return "kitty"
    if program in ("iTerm.app", "WezTerm", "vscode") or env.get("LC_TERMINAL") == "iTerm2":
        return "iterm"
    if "sixel" in term or term.startswith(("foot", "mlterm", "yaft")) or env.get("WT_SESSION"):
        return "sixel"
    return "blocks"


def render(image: Any, protocol: str, cells: int = CELLS) -> str:
    """``image`` (PIL) drawn ``cells`` wide in ``protocol``; ends with a newline."""
    picture = image.convert("RGB")
    rows = max(1, round(cells * picture.height / picture.width / 2))
    if protocol == "blocks":
        return _blocks(picture, cells)
    if protocol == "sixel":
        return _sixel(picture, cells * 8)
    png = io.BytesIO()
    small = picture.copy()
    small.thumbnail((cells * 16, cells * 32))
    small.save(png, "PNG")
    data = base64.standard_b64encode(png.getvalue()).decode("ascii")
    if protocol == "iterm":
        return f"\x1b]1337;File=inline=1;width={cells};preserveAspectRatio=1;size={len(png.getvalue())}:{data}\x07\n"
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    out = []
    for i, chunk in enumerate(chunks):
        more = 1 if i < len(chunks) - 1 else 0
        head = f"a=T,f=100,c={cells},r={rows},q=2,m={more}" if i == 0 else f"m={more}"
        out.append(f"\x1b_G{head};{chunk}\x1b\\")
    return "".join(out) + "\n"


def _blocks(picture: Any, cells: int) -> str:
    height = max(2, round(cells * picture.height / picture.width))
    small = picture.resize((cells, height + height % 2))
    px = small.load()
    lines = []
    for y in range(0, small.height, 2):
        cells_out = []
        for x in range(small.width):
            (r1, g1, b1), (r2, g2, b2) = px[x, y], px[x, y + 1]
            cells_out.append(f"\x1b[38;2;{r1};{g1};{b1}m\x1b[48;2;{r2};{g2};{b2}m▀")
        lines.append("".join(cells_out) + "\x1b[0m")
    return "\n".join(lines) + "\n"


def _sixel(picture: Any, width: int) -> str:
    from PIL import Image

    small = picture.copy()
    small.thumbnail((width, width * 4))
    indexed = small.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    palette = indexed.getpalette() or []
    pixels = indexed.load()
    w, h = indexed.size
    used = sorted({pixels[x, y] for y in range(h) for x in range(w)})
    out = ["\x1bPq", f'"1;1;{w};{h}']
    for i in used:
        r, g, b = palette[3 * i : 3 * i + 3]
        out.append(f"#{i};2;{r * 100 // 255};{g * 100 // 255};{b * 100 // 255}")
    for top in range(0, h, 6):
        band = []
        for colour in used:
            row = []
            for x in range(w):
                bits = 0
                for dy in range(6):
                    if top + dy < h and pixels[x, top + dy] == colour:
                        bits |= 1 << dy
                row.append(chr(63 + bits))
            if any(c != "?" for c in row):
                band.append(f"#{colour}" + _runs("".join(row)))
        out.append("$".join(band) + "-")
    out.append("\x1b\\")
    return "".join(out) + "\n"


def _runs(line: str) -> str:
    """Sixel run-length encoding: '!N' + char for runs longer than three."""
    out, i = [], 0
    while i < len(line):
        j = i
        while j < len(line) and line[j] == line[i]:
            j += 1
        n = j - i
        out.append(f"!{n}{line[i]}" if n > 3 else line[i] * n)
        i = j
    return "".join(out)
