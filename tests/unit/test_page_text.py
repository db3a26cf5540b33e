"""What makes two pages the same page, a revision, or two pages: the text check and the look check
every duplicate candidate passes (query/pagetext.py, query/confirm.py, ingest/phash.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from clipsearch.ingest.phash import Look, hamming, signature
from clipsearch.query.confirm import colour_differs, frame_differs
from clipsearch.query.pagetext import compare, words

CORPUS = Path(__file__).parents[1] / "corpus"
REPORT = (
    "INSPECTION REPORT Report No. IR-2024-031 Part No. KX-2291-B Date 2024-03-28 Inspector J. Smith "
    "1 Bore diameter 12.50 ±0.05 12.48 OK 2 Length 40.00 ±0.10 40.02 OK 3 Flatness 0.05 0.03 OK"
)


def test_pages_repeating_one_text_from_other_places_are_two_pages():
    """pdflatex's blind text runs over pages 2 and 3 from different places: the same words, two pages."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(CORPUS / "documents" / "pdflatex-4-pages.pdf")
    pages = [words(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
    assert compare(pages[1], pages[2]).kind == "different"
    assert compare(pages[0], pages[1]).kind == "different"
    assert compare(pages[2], pages[3]).kind == "different"  # the last page: a part of the text
    assert compare(pages[1], list(pages[1])).kind == "same"


@pytest.mark.parametrize(
    ("edit", "kind", "changed"),
    [
        (("KX-2291-B", "KX-2291-C"), "revision", ("b", "c")),  # the revision letter
        (("12.48 OK", "12.56 OK"), "revision", ("12.48", "12.56")),  # one measured value
        (("J. Smith", "A. Jones"), "revision", None),  # one field of the report
        (("INSPECTION REPORT", "INSPECTlON REP0RT"), "same", None),  # OCR's misread letters
        (("Part No.", "PartNo."), "same", None),  # glued by OCR
        (("40.02 OK", "40.02 i OK"), "same", None),  # a speck read as a letter
        (("12.48", "84.21"), "same", None),  # a number read upside down (12.48 turned over)
        (("Flatness 0.05 0.03 OK", ""), "same", None),  # a crop, or a line OCR did not find
    ],
)
def test_one_report_edited(edit, kind, changed):
    verdict = compare(words(REPORT), words(REPORT.replace(*edit)))
    assert verdict.kind == kind
    if changed:
        assert verdict.changes == [changed]


def test_two_reports_of_one_form_are_different_pages():
    other = (
        "INSPECTION REPORT Report No. IR-2024-044 Part No. MB-8441-A Date 2024-06-19 Inspector A. Jones "
        "1 Bore diameter 8.20 ±0.02 8.21 OK 2 Length 31.00 ±0.10 30.96 OK 3 Flatness 0.02 0.04 NOK"
    )
    assert compare(words(REPORT), words(other)).kind == "different"
    assert compare(words("TITLE"), words(REPORT)).kind == "unknown"  # too little text to judge by


def _logo(colour: tuple[int, int, int], size: int = 240, at: tuple[int, int] = (60, 60), r: int = 60) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((at[0], at[1], at[0] + 2 * r, at[1] + 2 * r), fill=colour)
    draw.rectangle((at[0] + r // 2, at[1] + r // 2, at[0] + r + r // 2, at[1] + r + r // 2), fill="white")
    return image


def _jpeg(image: Image.Image, quality: int = 40) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_colour_and_placement_tell_flat_graphics_apart():
    """One logo in red and in blue shares its grey code; a copy (half size, JPEG 40, greyed) keeps
    its colour and its place; the same shape drawn elsewhere or smaller is another picture."""
    red, blue = _logo((214, 32, 40)), _logo((34, 84, 216))
    looks = {
        name: Look.of(signature(image))
        for name, image in {
            "red": red,
            "blue": blue,
            "copy": _jpeg(red.resize((120, 120))),
            "grey": red.convert("L").convert("RGB"),
            "moved": _logo((214, 32, 40), at=(10, 110), r=45),
        }.items()
    }
    assert hamming(signature(red), signature(blue)) <= 24  # the code alone calls them one picture
    assert colour_differs(looks["red"], looks["blue"])
    assert not colour_differs(looks["red"], looks["copy"]) and not frame_differs(looks["red"], looks["copy"])
    assert not colour_differs(looks["red"], looks["grey"])  # a grey print or scan of it
    assert frame_differs(looks["red"], looks["moved"])


def test_a_scanned_page_is_trimmed_to_its_content():
    """A page scanned askew: white wedges in the corners round grey paper. Its code is taken from
    the printed part, as the clean page's is, so the two are near."""
    page = Image.new("L", (700, 990), 255)
    draw = ImageDraw.Draw(page)
    for i in range(20):
        draw.rectangle((80, 90 + 40 * i, 80 + (i * 37) % 500 + 60, 110 + 40 * i), fill=20)
    scan = page.point(lambda v: 236 if v > 240 else v).rotate(1.2, fillcolor=255).convert("RGB")
    clean, scanned = signature(page.convert("RGB")), signature(scan)
    assert hamming(clean, scanned) <= 24  # found by the perceptual search
    assert abs(Look.of(clean).share - Look.of(scanned).share) < 0.1  # the same part kept


def test_a_pictures_code_does_not_depend_on_the_ocr_setting(tmp_path):
    """Phase one decodes a JPEG at the same scale whether the text pass will look at it or not, so
    the code stored for one file is the same under --ocr none and --ocr auto."""
    from clipsearch.ingest.decode import prepare
    from clipsearch.ingest.options import IndexOptions
    from clipsearch.ingest.scan import FoundFile
    from clipsearch.models.registry import resolve_model_ref
    from clipsearch.models.runtimes import load_encoder

    path = tmp_path / "star.jpg"
    _logo((214, 32, 40), size=700).save(path, quality=80)
    encoder = load_encoder(resolve_model_ref("tiny-shapes"), "cpu")
    found = FoundFile(str(path), path.stat().st_size, path.stat().st_mtime_ns)
    codes = [
        prepare(found, frozenset(), encoder, IndexOptions(gate_cache=cache)).pages[0].phash
        for cache in (None, str(tmp_path / "gate"))
    ]
    assert codes[0] is not None and codes[0] == codes[1]


def test_codes_stored_by_older_versions_still_find_copies(tmp_path):
    """A catalog indexed before the look was kept holds 16-byte codes: they still find candidates
    and group copies (colour and framing apply once a file is indexed again)."""
    from types import SimpleNamespace

    from clipsearch.query.duplicates import find_duplicates
    from clipsearch.store.catalog import Catalog
    from tools.samples import synthetic_item

    red = _logo((214, 32, 40))
    old = signature(red)[:16]
    assert Look.of(old) is None and Look.of(signature(red)) is not None
    catalog = Catalog(tmp_path / "catalog.sqlite")
    vector = np.zeros(4, np.float32)
    items = [synthetic_item(f"/lib/{n}.png", vector, phash=code, width=240, height=240)
             for n, code in (("a", old), ("b", old), ("c", signature(red)), ("d", None))]  # fmt: skip
    catalog.commit_batch(add=items)
    store = SimpleNamespace(catalog=catalog, model=SimpleNamespace(toy=True, name="tiny-shapes"))
    groups = find_duplicates(store)  # type: ignore[arg-type]
    assert [sorted(m.item.path for m in g.members) for g in groups] == [["/lib/a.png", "/lib/b.png", "/lib/c.png"]]


def test_a_filled_shape_drawn_elsewhere_on_white_is_another_picture(tmp_path):
    """Three red discs on white (big in the middle, small in the middle, small on the left) code
    alike once trimmed, but they are not one picture saved three times; a half-size copy of a logo
    on white still is one. (A shape symmetric both ways has a pHash of near-zero coefficients: its
    copies can code far apart, so the logo here is not.)"""
    from types import SimpleNamespace

    from clipsearch.query.duplicates import find_duplicates
    from clipsearch.store.catalog import Catalog
    from tools.samples import synthetic_item

    def disc(centre: tuple[int, int], r: int, size: int = 500) -> Image.Image:
        image = Image.new("RGB", (size, size), "white")
        ImageDraw.Draw(image).ellipse((centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r), fill=(214, 32, 40))
        return image

    pictures = {"big": disc((250, 250), 200), "small": disc((250, 250), 100), "left": disc((120, 250), 100)}
    logo = _logo((214, 32, 40))
    ImageDraw.Draw(logo).polygon([(20, 20), (110, 30), (30, 100)], fill=(214, 32, 40))  # not symmetric
    pictures |= {"logo": logo, "logo-copy": logo.resize((120, 120))}
    assert hamming(signature(pictures["big"]), signature(pictures["left"])) <= 24  # the code alone: one picture
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.commit_batch(add=[synthetic_item(f"/lib/{name}.png", np.zeros(4, np.float32), phash=signature(image),
                                             width=image.width, height=image.height)
                              for name, image in pictures.items()])  # fmt: skip
    store = SimpleNamespace(catalog=catalog, model=SimpleNamespace(toy=True, name="tiny-shapes"))
    groups = [sorted(m.item.path for m in g.members) for g in find_duplicates(store)]  # type: ignore[arg-type]
    assert groups == [["/lib/logo-copy.png", "/lib/logo.png"]]
