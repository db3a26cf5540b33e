"""Camera RAW files through LibRaw (rawpy's wheel carries it).

No package ships a RAW photo, so the test writes one: a DNG (a TIFF with DNG's tags, written with
tifffile) holding a Bayer mosaic of a known scene, left half red and right half blue. LibRaw reads it
as any camera's DNG.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from clipsearch.ingest.images import load_image

pytest.importorskip("tifffile")

from tools.samples import write_dng


def test_a_dng_decodes_with_its_colours_in_place(tmp_path):
    image = load_image(write_dng(tmp_path / "shot.dng"), 64)
    assert image.info["original_size"] == (384, 256)
    left, right = image.getpixel((5, image.height // 2)), image.getpixel((image.width - 5, image.height // 2))
    assert left[0] > 2 * left[2] and right[2] > 2 * right[0]  # red on the left, blue on the right


def test_the_orientation_is_applied(tmp_path):
    image = load_image(write_dng(tmp_path / "turned.dng", orientation=6), 64)  # 90° clockwise
    assert image.height > image.width and image.info["original_size"] == (256, 384)
    top, bottom = image.getpixel((image.width // 2, 5)), image.getpixel((image.width // 2, image.height - 5))
    assert top[0] > 2 * top[2] and bottom[2] > 2 * bottom[0]  # the left (red) half is now on top


def test_a_broken_raw_is_skipped_with_a_reason(cli, tmp_path):
    folder = tmp_path / "raws"
    write_dng(folder / "good.dng")
    (folder / "broken.nef").write_bytes(b"not a raw file at all" * 10)
    report = cli.json("index", str(folder), "--model", "tiny-shapes")
    assert report["added"] == 1 and report["skipped"] == 1
    assert report["skipped_files"][0]["reason"].startswith("cannot decode RAW")


def test_raw_and_jpeg_of_one_shot_are_a_duplicate_pair_and_the_jpeg_is_kept(cli, tmp_path):
    folder = tmp_path / "shots"
    dng = write_dng(folder / "IMG_0042.dng")
    load_image(dng, 64).save(folder / "IMG_0042.JPG", quality=90)  # what the camera wrote beside it
    shutil.copy(dng, folder / "IMG_0043.dng")  # another shot, alone
    Image.new("RGB", (64, 48), (0, 200, 0)).save(folder / "IMG_0044.jpg")
    cli.json("index", str(folder), "--model", "tiny-shapes")
    groups = cli.json("duplicates", "--by", "raw-pair")
    assert len(groups) == 1
    assert groups[0]["keeper"].endswith("IMG_0042.JPG") and groups[0]["tier"] == "raw-pair"
    assert sorted(Path(i["path"]).name for i in groups[0]["items"]) == ["IMG_0042.JPG", "IMG_0042.dng"]


def test_the_embedded_preview_is_used_when_large_enough():
    """LibRaw's preview path, with a stand-in for a camera file's LibRaw handle (tifffile writes no
    previews LibRaw finds): a preview at least the model's size is used, turned as the sensor is."""
    import io

    import rawpy

    from clipsearch.ingest.raw import embedded_preview

    buf = io.BytesIO()
    Image.new("RGB", (600, 400), (255, 0, 0)).save(buf, "JPEG")

    class Thumb:
        format, data = rawpy.ThumbFormat.JPEG, buf.getvalue()

    class Sizes:
        width, height, flip = 6000, 4000, 6

    class Raw:
        sizes = Sizes()

        def extract_thumb(self) -> Thumb:
            return Thumb()

    upright = embedded_preview(Raw(), 256)
    assert upright is not None and upright.size == (400, 600)  # landscape preview of a portrait shot
    assert embedded_preview(Raw(), 1000) is None  # too small for what is needed: demosaic instead
