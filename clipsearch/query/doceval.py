"""A generated document set with ground truth for near-duplicate evaluation, and its scorer.

All drawn here with a fixed seed: inspection reports in one layout (text-layer PDFs), copies made from
the rendered page (half size, JPEG 40, a grey scan turned a degree, an image-only PDF), revisions with
one line changed, A3 drawings in one title-block template (PNG and PDF) with copies and revisions, a
logo in three colours (not duplicates) and a half-size copy, a three-page manual with an image-only
copy (the same document) and a copy of its pages 1-2 (not the same document). An item is a picture's
path or ``"{path}#page={n}"``: the same page name means copies, one family and two names revisions.
"""

from __future__ import annotations

import io
import itertools
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from .dupeval import pdf_bytes

SEED = 7_2024
A4 = (595.0, 842.0)
A3 = (1191.0, 842.0)
#: Longest side of the pictures made from pages (about the OCR's reading size): copies, PNG drawings.
COPY_SIDE = 2000
#: reports, {report: copy kinds}, {report: its revision's change}, drawings (as PNG or PDF), the same for drawings
SIZES = {
    "small": (4, {0: ("half", "jpeg40"), 1: ("scan", "pdf")}, {2: "value", 3: "part"},
              ("png", "png"), {0: ("jpeg40",)}, {1: "dimension"}),
    "full": (12, {i: ("half", "jpeg40", "scan", "pdf") for i in range(6)}, {0: "inspector", 6: "value", 7: "part",
             8: "inspector", 9: "value"}, ("png", "png", "png", "png", "pdf", "pdf"),
             {0: ("jpeg40", "half"), 1: ("jpeg40",), 4: ("half",)}, {2: "dimension", 3: "rev", 5: "dimension"}),
}  # fmt: skip


@dataclass
class DocumentTruth:
    #: item -> the name of its page content (the same name: the same page saved again)
    pages: dict[str, str] = field(default_factory=dict)
    #: item -> its revision family (revisions of one page share a family, not a name)
    families: dict[str, str] = field(default_factory=dict)
    #: pairs of PDF paths that hold the same pages in the same order
    documents: list[tuple[str, str]] = field(default_factory=list)
    #: pairs of PDF paths where the second holds only some of the first's pages
    partial: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, name: str, family: str | None = None) -> None:
        self.pages[key] = name
        self.families[key] = family or name

    def page_counts(self) -> dict[str, int]:
        """PDF path -> its number of pages."""
        pages = [key.rsplit("#page=", 1) for key in self.pages if "#page=" in key]
        return {path: max(int(n) for p, n in pages if p == path) for path, _ in pages}


def _rgb(rgb: tuple[int, int, int], op: str) -> str:
    return " ".join(f"{c / 255:.3f}" for c in rgb) + f" {op}"


class Page:
    """A PDF page of Helvetica text (a real text layer) and stroked or filled paths; y counts from the top."""

    def __init__(self, size: tuple[float, float] = A4) -> None:
        self.size = size
        self.ops: list[str] = []

    def text(self, x: float, y: float, s: str, size: float = 12, bold: bool = False, rgb=(0, 0, 0)) -> None:
        s, font = s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)"), "F2" if bold else "F1"
        self.ops.append(f"BT {_rgb(rgb, 'rg')} /{font} {size:g} Tf {x:.2f} {self.size[1] - y:.2f} Td ({s}) Tj ET")

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 1.0, dash: str = "") -> None:
        path = f"{x0:.2f} {self.size[1] - y0:.2f} m {x1:.2f} {self.size[1] - y1:.2f} l S"
        self.ops.append(f"q {width:g} w [{dash}] 0 d {path} Q")

    def rect(self, x: float, y: float, w: float, h: float, width: float = 1.0, fill=None) -> None:
        paint = f"{_rgb(fill, 'rg')} f" if fill else "S"
        self.ops.append(f"q {width:g} w {x:.2f} {self.size[1] - (y + h):.2f} {w:.2f} {h:.2f} re {paint} Q")

    def circle(self, cx: float, cy: float, r: float, width: float = 1.0, fill=None) -> None:
        k, y = 0.5523 * r, self.size[1] - cy
        pts = [(cx + r, y + k, cx + k, y + r, cx, y + r), (cx - k, y + r, cx - r, y + k, cx - r, y),
               (cx - r, y - k, cx - k, y - r, cx, y - r), (cx + k, y - r, cx + r, y - k, cx + r, y)]  # fmt: skip
        curves = " ".join(" ".join(f"{v:.2f}" for v in p) + " c" for p in pts)
        paint = f"{_rgb(fill, 'rg')} f" if fill else "S"
        self.ops.append(f"q {width:g} w {cx + r:.2f} {y:.2f} m {curves} {paint} Q")


def pdf_file(path: Path, pages: list[Page]) -> Path:
    """Write ``pages`` as a PDF with Helvetica and Helvetica-Bold (WinAnsi), no dates: the same bytes each run."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, page in enumerate(pages):
        stream = "\n".join(page.ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page.size[0]:g} {page.size[1]:g}] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {3 + 2 * n} 0 R /F2 {4 + 2 * n} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    for face in ("Helvetica", "Helvetica-Bold"):
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{face} /Encoding /WinAnsiEncoding >>".encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf_bytes(objects))
    return path


def rendered(pdf: Path, side: int = COPY_SIDE) -> list[Image.Image]:
    """Every page of ``pdf`` rendered the indexer's way (``ingest.pdf.render_pages``), ``side`` px long."""
    from ..ingest.pdf import render_pages

    return [image for _, image in render_pages(pdf, long_side=side)]


def image_pdf(path: Path, images: list[Image.Image], page_long_side: float = A4[1]) -> Path:
    """An image-only PDF (no text layer) of ``images``, one a page, each page ``page_long_side`` pt long."""
    resolution = max(images[0].size) * 72 / page_long_side
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, "PDF", resolution=resolution, save_all=True, append_images=images[1:],
                   creationDate=None, modDate=None)  # fmt: skip
    return path


def copied(image: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    """A copy of a rendered page: half size, JPEG quality 40 (decoded), or a grey scan turned ~1-1.5 degrees."""
    if kind == "half":
        return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    if kind == "jpeg40":
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=40)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "scan":
        angle = rng.choice((-1, 1)) * rng.uniform(1.0, 1.5)
        grey = image.convert("L").point(lambda v: 238 if v > 240 else int(v * 0.95))  # paper is never white
        turned = grey.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
        noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 5, (turned.height, turned.width))
        noisy = np.clip(np.asarray(turned, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        return Image.fromarray(noisy).filter(ImageFilter.GaussianBlur(0.6))
    raise ValueError(kind)


def save_copies(source: Path, kinds: tuple[str, ...], folder: Path, stem: str, truth: DocumentTruth,
                name: str, rng: random.Random) -> None:  # fmt: skip
    """Copies of a one-page PDF or a PNG (``source``) in ``kinds``; "pdf": an image-only PDF."""
    image = rendered(source)[0] if source.suffix == ".pdf" else Image.open(source).convert("RGB")
    for kind in kinds:
        if kind == "pdf":
            target = image_pdf(folder / f"{stem}-scan.pdf", [copied(image, "scan", rng).convert("RGB")])
            truth.add(f"{target}#page=1", name)
            continue
        target = folder / f"{stem}-{kind}.{'jpg' if kind == 'jpeg40' else 'png'}"
        folder.mkdir(parents=True, exist_ok=True)
        copy = copied(image, kind, rng)
        copy.save(target, quality=40) if kind == "jpeg40" else copy.save(target)
        truth.add(str(target), name)


INSPECTORS = ("A. Keller", "M. Novak", "J. Brandt", "S. Ortiz", "L. Becker", "R. Haas", "T. Lindqvist", "K. Weber")
FEATURES = ("Overall length", "Width", "Height", "Bore diameter", "Hole spacing", "Slot width", "Thread depth",
            "Chamfer 45 deg", "Flatness", "Step height", "Flange thickness", "Pin diameter")  # fmt: skip
COLUMNS = ((56, "No."), (86, "Feature"), (246, "Nominal"), (326, "Tolerance"), (411, "Measured"), (486, "Result"))


def new_report(i: int, rng: random.Random) -> dict[str, Any]:
    """A report's fields and its 6-10 measurement rows (characteristic, nominal, tolerance, measured, result)."""
    rows = []
    for feature in rng.sample(FEATURES, rng.randint(6, 10)):
        nominal = round(rng.uniform(4, 240), 1)
        shown = rng.choice(("±0.02", "±0.05", "±0.10", "±0.20"))
        measured = nominal + rng.uniform(-0.8, 0.8) * float(shown[1:])
        rows.append((feature, f"{nominal:.2f}", shown, f"{measured:.3f}", "OK"))
    part = f"{rng.choice(('KX', 'MB', 'TR', 'HL'))}-{rng.randint(1000, 9999)}-{rng.choice('ABCD')}"
    date = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return {"number": f"IR-2024-{400 + 13 * i:04d}", "part": part, "date": date,
            "inspector": rng.choice(INSPECTORS), "rows": rows}  # fmt: skip


def revised(report: dict[str, Any], change: str, rng: random.Random) -> dict[str, Any]:
    """The same report with one line changed: a measured value, the part's revision letter, or the inspector."""
    if change == "value":
        rows, k = list(report["rows"]), rng.randrange(len(report["rows"]))
        value = float(rows[k][3]) + rng.choice((-1, 1)) * rng.choice((0.011, 0.017, 0.023))
        rows[k] = (*rows[k][:3], f"{value:.3f}", rows[k][4])
        return {**report, "rows": rows}
    if change == "part":
        return {**report, "part": report["part"][:-1] + chr(ord(report["part"][-1]) + 1)}
    return {**report, "inspector": next(n for n in INSPECTORS if n != report["inspector"])}


def report_page(r: dict[str, Any]) -> Page:
    """One layout for every report: header, four fields in a box, a ten-row table frame, signatures."""
    p = Page(A4)
    for x, y, text, size, bold in ((56, 80, "INSPECTION REPORT", 24, True), (470, 800, "Page 1 of 1", 11, False),
                                   (56, 104, "Northfield Precision Parts GmbH - Quality Assurance", 12, False),
                                   (56, 545, "Remarks: measured at 20 °C with calibrated gauges.", 12, False),
                                   (56, 800, "Form QA-17 rev. 3", 11, False)):  # fmt: skip
        p.text(x, y, text, size, bold)
    p.line(56, 116, 539, 116, 1.5)
    p.rect(56, 135, 483, 80)
    p.line(56, 175, 539, 175, 0.5)
    p.line(300, 135, 300, 215, 0.5)
    for x, y, label, key in ((66, 160, "Report No.", "number"), (310, 160, "Date", "date"),
                             (66, 200, "Part No.", "part"), (310, 200, "Inspector", "inspector")):  # fmt: skip
        p.text(x, y, label, 12, bold=True)
        p.text(x + 84, y, r[key], 13)
    top, head, row_h = 250, 26, 24
    p.rect(56, top, 483, head, fill=(220, 220, 220))
    p.rect(56, top, 483, head + 10 * row_h, 1.2)
    for k in range(11):
        p.line(56, top + head + k * row_h, 539, top + head + k * row_h, 0.5)
    for x, label in COLUMNS:
        p.text(x + 4, top + 18, label, 11, bold=True)
        if x > 56:
            p.line(x, top, x, top + head + 10 * row_h, 0.5)
    for k, row in enumerate(r["rows"]):
        y = top + head + k * row_h + 17
        for (x, _), value in zip(COLUMNS, (str(k + 1), *row), strict=True):
            p.text(x + 4, y, value, 12)
    for x, label in ((56, "Inspector signature"), (320, "Approved by")):
        p.line(x, 640, x + 200, 640, 0.8)
        p.text(x, 656, label, 11)
    return p


TITLES = ("BEARING BRACKET", "MOUNTING PLATE", "GUIDE BLOCK", "CLAMP JAW", "MOTOR FLANGE", "SPACER PLATE")


def new_drawing(i: int, rng: random.Random) -> dict[str, Any]:
    """A drawing's data: title block, a front view (plate with holes) and a side view, and their dimensions."""
    w, h, depth = rng.randint(300, 520), rng.randint(180, 330), rng.randint(40, 110)
    x, y = 130, 110 + (330 - h) // 2
    n = rng.randint(1, 4)
    largest = min(34, w // (2 * n + 2) - 8)
    holes = [(x + w * (k + 1) // (n + 1), y + int(h * rng.uniform(0.3, 0.7)), rng.randint(10, largest))
             for k in range(n)]  # fmt: skip
    side = (x + w + 150, y, depth, h)
    dims = [("h", x, x + w, y + h + 50, str(w // 2)), ("v", y, y + h, x - 50, str(h // 2)),
            ("h", side[0], side[0] + depth, y + h + 50, str(depth // 2))]  # fmt: skip
    dims += [("d", cx, cy, r, f"Ø{r}") for cx, cy, r in holes[:2]]
    return {"number": f"D-{40213 + 37 * i}", "title": TITLES[i % len(TITLES)], "rev": "A", "scale": "1:2",
            "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "drawn": rng.choice(INSPECTORS),
            "body": (x, y, w, h), "holes": holes, "side": side, "dims": dims}  # fmt: skip


def revised_drawing(d: dict[str, Any], change: str) -> dict[str, Any]:
    """The same drawing with one dimension number or the revision letter changed."""
    if change == "rev":
        return {**d, "rev": chr(ord(d["rev"]) + 1)}
    kind, a, b, at, value = d["dims"][0]
    return {**d, "dims": [(kind, a, b, at, str(int(value) + 5)), *d["dims"][1:]]}


def _dimension(p: Page, kind: str, a: float, b: float, at: float, value: str) -> None:
    if kind == "d":  # a hole's diameter: a leader from the rim, the value at its end
        p.line(a + at * 0.7, b - at * 0.7, a + at + 36, b - at - 36, 0.6)
        p.text(a + at + 40, b - at - 40, value, 14)
        return
    flip = (lambda u, v: (u, v)) if kind == "h" else (lambda u, v: (v, u))  # (along, across) -> (x, y)
    body = -1 if kind == "h" else 1  # the side of the dimension line the part is on
    for end, s in ((a, 1), (b, -1)):  # extension lines and arrow heads
        p.line(*flip(end, at + 46 * body), *flip(end, at - 6 * body), 0.4)
        p.line(*flip(end, at), *flip(end + 10 * s, at - 3), 0.6)
        p.line(*flip(end, at), *flip(end + 10 * s, at + 3), 0.6)
    p.line(*flip(a, at), *flip(b, at), 0.6)
    p.text(*(((a + b) / 2 - 12, at - 6) if kind == "h" else (at - 34, (a + b) / 2 + 5)), value, 14)


def drawing_page(d: dict[str, Any]) -> Page:
    """One template: a frame, a title block at the bottom right; the views and dimensions differ."""
    p = Page(A3)
    p.rect(20, 20, 1151, 802, 0.6)
    p.rect(34, 34, 1123, 774, 2.0)
    x0, y0 = 717, 678
    p.rect(x0, y0, 440, 130, 1.5)
    for y in (y0 + 40, y0 + 80):
        p.line(x0, y, x0 + 440, y, 0.8)
    for x, ya, yb in ((x0 + 210, y0 + 40, y0 + 130), (x0 + 290, y0 + 40, y0 + 80)):
        p.line(x, ya, x, yb, 0.8)
    cells = ((x0, y0, "TITLE", d["title"]), (x0, y0 + 40, "DRAWING NO.", d["number"]),
             (x0 + 210, y0 + 40, "REV", d["rev"]), (x0 + 290, y0 + 40, "SCALE", d["scale"]),
             (x0, y0 + 80, "DATE", d["date"]), (x0 + 210, y0 + 80, "DRAWN", d["drawn"]))  # fmt: skip
    for x, y, label, value in cells:
        p.text(x + 6, y + 13, label, 11)
        p.text(x + 6, y + 33, value, 15, bold=True)
    x, y, w, h = d["body"]
    p.rect(x, y, w, h, 1.6)
    sx, sy, sw, sh = d["side"]
    p.rect(sx, sy, sw, sh, 1.6)
    for cx, cy, r in d["holes"]:
        p.circle(cx, cy, r, 1.2)
        p.line(cx - r - 10, cy, cx + r + 10, cy, 0.4, "12 3 2 3")
        p.line(cx, cy - r - 10, cx, cy + r + 10, 0.4, "12 3 2 3")
        p.line(sx - 8, cy - r, sx + sw + 8, cy - r, 0.5, "4 3")
        p.line(sx - 8, cy + r, sx + sw + 8, cy + r, 0.5, "4 3")
    for dim in d["dims"]:
        _dimension(p, *dim)
    return p


LOGO_COLOURS = {"red": (200, 30, 35), "blue": (30, 60, 200), "green": (30, 150, 60)}


LOREM = ("Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Ut purus elit, vestibulum ut, placerat ac, "
         "adipiscing vitae, felis. Curabitur dictum gravida mauris. Nam arcu libero, nonummy eget, consectetuer "
         "id, vulputate a, magna. Donec vehicula augue eu neque. Pellentesque habitant morbi tristique senectus et"
         " netus et malesuada fames ac turpis egestas. Mauris ut leo.")  # fmt: skip
MANUAL = (
    ("1 Safety", "Read this manual before you switch the MX-40 bench drill on. Wear eye protection and keep loose "
     "clothing, gloves and long hair away from the spindle. Clamp every workpiece in the machine vice; never hold "
     "it by hand.", "Disconnect the mains plug before you change a drill bit or the belt position. The emergency "
     "stop on the front panel cuts power to the motor at once; release it by turning it clockwise."),
    ("2 Installation", "Bolt the base to a level workbench with four M10 bolts through the slots in the base "
     "plate. The supply must be 230 V, 50 Hz with a 10 A fuse.", "Fit the chuck guard before the first run and "
     "check that the spindle turns freely by hand. Set the belt to the lowest speed, 280 rpm, for the first test."),
    ("3 Maintenance", "Every 50 hours of use, clean the column and oil it lightly. Check the belt tension: the belt "
     "should give 10 mm under thumb pressure halfway between the pulleys.", "Replace a worn belt with part number "
     "MX-40-117. Grease the quill once a year with lithium grease; never clean the motor vents with compressed air."),
)  # fmt: skip


def manual_page(n: int) -> Page:
    """Page ``n`` (1-3) of a small manual; pages 2 and 3 share the blind-text paragraph, placed differently."""
    p = Page(A4)
    y = 90.0
    if n == 1:
        p.text(56, 80, "MX-40 Bench Drill", 24, bold=True)
        p.text(56, 106, "Operating and maintenance instructions", 14)
        y = 150.0
    heading, *paragraphs = MANUAL[n - 1]
    blocks = [(heading, True), *((text, False) for text in paragraphs)]
    if n > 1:  # the same blind text: below the heading on page 2, at the end on page 3
        blocks.insert(1 if n == 2 else len(blocks), (LOREM, False))
    for block, bold in blocks:
        if bold:
            p.text(56, y, block, 16, bold=True)
            y += 30
            continue
        for line in textwrap.wrap(block, 80):
            p.text(56, y, line, 11)
            y += 16
        y += 14
    p.text(56, 800, f"MX-40 manual - page {n} of 3", 11)
    return p


def build_document_set(out: Path, *, size: str = "full") -> DocumentTruth:
    """Write the document set under ``out`` (``size``: "small" for the tests, "full" for ``make eval``)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    n_reports, report_copies, report_revisions, drawing_kinds, drawing_copies, drawing_revisions = SIZES[size]
    out = out.resolve()
    rng = random.Random(SEED)
    truth = DocumentTruth()
    for i in range(n_reports):
        report, name = new_report(i, rng), f"report-{i:02d}"
        pdf = pdf_file(out / "reports" / f"report-{i:02d}.pdf", [report_page(report)])
        truth.add(f"{pdf}#page=1", name)
        save_copies(pdf, report_copies.get(i, ()), out / "copies", f"report-{i:02d}", truth, name, rng)
        if i in report_revisions:
            page = report_page(revised(report, report_revisions[i], rng))
            rev = pdf_file(out / "revisions" / f"report-{i:02d}-b.pdf", [page])
            truth.add(f"{rev}#page=1", f"{name}-b", name)
    for i, kind in enumerate(drawing_kinds):
        drawing, name = new_drawing(i, rng), f"drawing-{i}"
        source = _drawing_file(out / "drawings" / f"drawing-{i}.{kind}", drawing, truth, name, name)
        save_copies(source, drawing_copies.get(i, ()), out / "copies", f"drawing-{i}", truth, name, rng)
        if i in drawing_revisions:
            change = revised_drawing(drawing, drawing_revisions[i])
            _drawing_file(out / "revisions" / f"drawing-{i}-b.{kind}", change, truth, f"{name}-b", name)
    _graphics(out / "graphics", truth)
    _manual(out / "manual", truth)
    # the same document: the same page names in the same order; partial: one's pages a proper subset of the other's
    names = {pdf: [truth.pages[f"{pdf}#page={n}"] for n in range(1, c + 1)] for pdf, c in truth.page_counts().items()}
    for a, b in itertools.combinations(sorted(names), 2):
        if names[a] == names[b]:
            truth.documents.append((a, b))
        elif set(names[a]) < set(names[b]) or set(names[b]) < set(names[a]):
            truth.partial.append((a, b) if len(names[a]) > len(names[b]) else (b, a))
    return truth


def _drawing_file(path: Path, drawing: dict[str, Any], truth: DocumentTruth, name: str, family: str) -> Path:
    pdf = pdf_file(path.with_suffix(".pdf"), [drawing_page(drawing)])
    if path.suffix == ".pdf":
        truth.add(f"{pdf}#page=1", name, family)
        return pdf
    rendered(pdf)[0].save(path)
    pdf.unlink()
    truth.add(str(path), name, family)
    return path


def _graphics(folder: Path, truth: DocumentTruth) -> None:
    """A flat logo (a ring, two bars, a word) in three colours on white, 360 x 240 px; a half-size copy of the red."""
    for colour, rgb in LOGO_COLOURS.items():
        p = Page((270, 180))
        p.circle(62, 80, 44, fill=rgb)
        p.circle(62, 80, 22, fill=(255, 255, 255))
        p.rect(120, 40, 22, 80, fill=rgb)
        p.rect(152, 60, 22, 60, fill=rgb)
        p.text(30, 160, "NORDAL", 30, bold=True, rgb=rgb)
        image = rendered(pdf_file(folder / "logo.tmp.pdf", [p]), 360)[0]
        image.save(folder / f"logo-{colour}.png")
        truth.add(str(folder / f"logo-{colour}.png"), f"logo-{colour}")
        if colour == "red":
            copied(image, "half", random.Random()).save(folder / "logo-red-small.png")
            truth.add(str(folder / "logo-red-small.png"), "logo-red")
    (folder / "logo.tmp.pdf").unlink()


def _manual(folder: Path, truth: DocumentTruth) -> None:
    """The manual (text layer), an image-only copy of all of it, and a copy of its pages 1-2 (text layer)."""
    pages = [manual_page(n) for n in (1, 2, 3)]
    whole = pdf_file(folder / "manual.pdf", pages)
    scan = image_pdf(folder / "manual-scan.pdf", rendered(whole))
    part = pdf_file(folder / "manual-pages-1-2.pdf", pages[:2])
    for pdf, count in ((whole, 3), (scan, 3), (part, 2)):
        for n in range(1, count + 1):
            truth.add(f"{pdf}#page={n}", f"manual-{n}")


def _key(item: dict[str, Any]) -> str:
    return f"{item['path']}#page={item['page']}" if item.get("page") else item["path"]


def _pairs(keys: Any) -> set[frozenset[str]]:
    return {frozenset(p) for p in itertools.combinations(sorted(set(keys)), 2)}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def _alike(names: dict[str, str]) -> set[frozenset[str]]:
    """Pairs of keys with the same value."""
    keys: dict[str, list[str]] = {}
    for key, name in names.items():
        keys.setdefault(name, []).append(key)
    return set().union(*(_pairs(k) for k in keys.values()))


def score_documents(groups: list[dict[str, Any]], truth: DocumentTruth) -> dict[str, Any]:
    """Score ``clipsearch duplicates --json`` groups against ``truth``: pairwise precision / recall / F1 of
    copies (every group but "revision" ones; a "document" group counts as its aligned page pairs), revision
    pairs reported as copies, revision pairs in one "revision" group (``revision_recall``; by page names:
    ``revision_links_found``), and what else revision groups hold (copies only there, unrelated pages),
    whole documents found, and partial copies reported as the same document."""
    counts = truth.page_counts()
    predicted: set[frozenset[str]] = set()
    revision_groups: list[set[str]] = []
    document_groups: list[set[str]] = []
    for g in groups:
        if g["tier"] == "revision":
            revision_groups.append({_key(m) for m in g["items"]})
        elif g["tier"] == "document":
            paths = {m["path"] for m in g["items"]}
            document_groups.append(paths)
            for a, b in itertools.combinations(sorted(paths), 2):
                pages = range(1, min(counts.get(a, 0), counts.get(b, 0)) + 1)
                predicted |= {frozenset((f"{a}#page={n}", f"{b}#page={n}")) for n in pages}
        else:
            predicted |= _pairs(_key(m) for m in g["items"])
    actual, family = _alike(truth.pages), _alike(truth.families)
    revisions = family - actual
    in_revision = set().union(set(), *(_pairs(g) for g in revision_groups))
    links = {frozenset(truth.pages[k] for k in p) for p in revisions}  # pairs of names, one a revision of the other
    linked = links & {frozenset(truth.pages.get(k, k) for k in p) for p in in_revision}
    tp = len(predicted & actual)
    precision, recall = _share(tp, len(predicted)), _share(tp, len(actual))
    return {
        "precision": precision, "recall": recall,
        "f1": _share(2 * tp, len(predicted) + len(actual)),
        "true_pairs": len(actual), "predicted_pairs": len(predicted),
        "revisions_as_duplicates": len(predicted & revisions),
        "revision_pairs": len(revisions), "revision_recall": _share(len(revisions & in_revision), len(revisions)),
        "revision_links": len(links), "revision_links_found": len(linked),
        "revision_group_pairs": len(in_revision),
        "revision_precision": _share(len(in_revision & revisions), len(in_revision)),
        "copies_as_revisions": len(in_revision & actual - predicted),
        "unrelated_as_revisions": len(in_revision - family),
        "documents_found": sum(any(set(p) <= g for g in document_groups) for p in truth.documents),
        "documents_expected": len(truth.documents), "document_groups": len(document_groups),
        "partial_as_document": sum(any(set(p) <= g for g in document_groups) for p in truth.partial),
    }  # fmt: skip
