"""What several test modules use: generated files (scans, dated JPEGs, pictures that take a while
to index), the installed command, waiting for a process, an MCP client session. Tests import these
from here, never from one another."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The installed ``clipsearch`` command, beside this interpreter.
EXE = str(Path(sys.executable).parent / "clipsearch")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def scan(path: Path, lines: list[str], font: Path = DEJAVU, size: tuple[int, int] = (1400, 1000)) -> Path:
    """A generated 'scan': text only as pixels (slightly grey paper, a frame like a drawing's)."""
    image = Image.new("RGB", size, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(str(font), 38)
    for i, line in enumerate(lines):
        draw.text((70, 80 + 90 * i), line, font=face, fill=(20, 20, 20))
    draw.rectangle((20, 20, size[0] - 20, size[1] - 20), outline=(0, 0, 0), width=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def exif_jpeg(path: Path, taken: str | None, colour: tuple[int, int, int], *, gps=None, camera=None) -> Path:
    """A JPEG with EXIF DateTimeOriginal ``taken`` (raw EXIF string), optional GPS and camera."""
    image = Image.new("RGB", (96, 64), colour)
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken
    if camera:
        exif[271], exif[272] = camera
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)), 3: "E" if lon >= 0 else "W", 4: _dms(abs(lon))}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", exif=exif)
    return path


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round((value - d - m / 60) * 3600, 2))


def names(results: list[dict]) -> list[str]:
    return [Path(r["path"]).name + (f"#{r['page']}" if r.get("page") else "") for r in results]


def make_folder(root: Path, n: int, size: int = 600) -> Path:
    """``n`` distinct PNGs, large enough that indexing takes a little while per file."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        a, b, c = rng.uniform(0.005, 0.05, size=3)
        arr = np.stack([np.sin(xx * a + i), np.cos(yy * b), np.sin((xx + yy) * c)], -1)
        Image.fromarray(((arr + 1) * 127).astype(np.uint8)).save(root / f"img{i:03d}.png", compress_level=1)
    return root


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def mcp_session(home: Path, *args: str):  # type: ignore[no-untyped-def]
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {**os.environ, "CLIPSEARCH_HOME": str(home)}
    return Client(StdioServerParameters(command=EXE, args=["mcp", *args], env=env), read_timeout_seconds=120)
