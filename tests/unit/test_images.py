"""Image loading: what a real photo folder throws at the indexer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from clipsearch.errors import ImageLoadError
from clipsearch.ingest.images import load_image, to_rgb


def _jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (80, 40), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 40, 40))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    path = tmp_path / "rotated.jpg"
    img.save(path, "JPEG", exif=exif, quality=95)
    out = load_image(path)
    assert out.size == (40, 80)  # upright: portrait
    top = np.asarray(out)[5, 20]
    assert top[2] > 200 and top[0] < 60  # the blue half is now on top
    assert out.info["original_size"] == (40, 80)


def test_large_jpeg_is_drafted_but_covers_the_model_input(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg_bytes(Image.new("RGB", (4000, 3000), (10, 120, 200)), quality=80))
    out = load_image(path, min_size=256)
    assert min(out.size) >= 256 and max(out.size) < 4000 / 4  # decoded at a reduced DCT scale
    assert out.info["original_size"] == (4000, 3000)


def test_ocr_decodes_a_large_jpeg_by_its_longest_side(tmp_path):
    """The text pass reads a 12 MP photo's sign at 2000 px: half the photo's DCT scale, not all of
    it decoded and then shrunk (which cost more than reading the sign)."""
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg_bytes(Image.new("RGB", (4000, 3000), (10, 120, 200)), quality=80))
    assert load_image(path, long_side=2000).size == (2000, 1500)
    assert load_image(path, long_side=1999).size == (2000, 1500)  # never smaller than asked
    assert load_image(path, long_side=2001).size == (4000, 3000)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("CMYK", (30, 20), (0, 255, 255, 0)),
        lambda: Image.new("LA", (30, 20), (128, 255)),
        lambda: Image.new("I;16", (30, 20), 40000),
        lambda: Image.new("P", (30, 20)),
    ],
    ids=["cmyk", "grey-alpha", "16-bit", "palette"],
)
def test_odd_modes_become_rgb(make):
    assert to_rgb(make()).mode == "RGB"


def test_transparent_palette_is_composited_on_white(tmp_path):
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0] * 256)
    img.info["transparency"] = 0
    path = tmp_path / "t.png"
    img.save(path, transparency=0)
    assert load_image(path).getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    r, g, _ = load_image(path).getpixel((10, 10))
    assert r > 200 and g < 50


def test_sixteen_bit_png_keeps_contrast(tmp_path):
    arr = np.zeros((10, 20), dtype=np.uint16)
    arr[:, 10:] = 60000
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    out = np.asarray(load_image(path))
    assert out[0, 0, 0] < 10 and out[0, 15, 0] > 245


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(path)  # tiny file, 144 MP declared
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path, max_megapixels=50)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html></html>", "not a recognised image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "cannot decode|not a recognised"),
    ],
)
def test_garbage_raises_image_load_error(tmp_path, data, reason):
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageLoadError, match=reason):
        load_image(path)
