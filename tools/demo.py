#!/usr/bin/env python3
"""`make demo`: index the bundled sample corpus and query it, through the real `clipsearch` command.

Uses the default model (ViT-B-32-SigLIP2-256, webli) when its weights can be had (cached or
downloadable). Offline, it says so in one line and runs with the built-in toy model `tiny-shapes`
on a generated folder of coloured shapes plus the corpus, so the queries still visibly make sense.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from clipsearch.errors import ModelUnavailableError  # noqa: E402
from clipsearch.models.demo_shapes import generate_folder  # noqa: E402
from clipsearch.models.registry import resolve_model_ref  # noqa: E402
from clipsearch.models.runtimes import load_encoder  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
EXE = str(Path(sys.executable).parent / "clipsearch")


def run(*args: str) -> None:
    print(f"\n$ clipsearch {' '.join(shlex.quote(a) for a in args)}", flush=True)
    subprocess.run([EXE, *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=str(ROOT / "indexes"))
    args = parser.parse_args()
    home = Path(args.home).resolve()
    common = ["--home", str(home)]

    try:
        load_encoder(resolve_model_ref(), "cpu")
        default_ok = True
    except ModelUnavailableError as err:
        default_ok = False
        print(
            "demo: the default weights ViT-B-32-SigLIP2-256 (webli) can't be fetched here "
            f"({str(err).split('(')[1].split(')')[0]}); using the built-in toy model tiny-shapes instead, "
            "which knows 6 colours and 5 shapes",
            flush=True,
        )

    if default_ok:
        run("index", str(CORPUS), *common, "--index", "demo")
        run("search", "an engineering drawing of a mechanical part", *common, "--index", "demo", "-k", "5")
        run("similar", str(CORPUS / "photos" / "chelsea.png"), *common, "--index", "demo", "-k", "5")
    else:
        shapes = home / "demo-shapes"
        generate_folder(shapes, per_class=2)
        index = ["--index", "demo-tiny-shapes"]
        run("index", str(shapes), str(CORPUS), *common, *index, "--model", "tiny-shapes")
        run("search", "a blue star", *common, *index, "-k", "5")
        run("similar", str(next(shapes.glob("green_square_00.*"))), *common, *index, "-k", "5")
        run("search", "a red circle", "--sub", "red", "--add", "blue", *common, *index, "-k", "3")
    index = ["--index", "demo"] if default_ok else ["--index", "demo-tiny-shapes"]
    # text read from the drawings (OCR) and the PDFs' text layers; a date filter from EXIF/PDF/mtime
    run("search", "--text", "SCALE 1:1", *common, *index, "-k", "3")
    run("search", "--text", "Huardest", "--type", "pdf", "--sort", "date", *common, *index, "-k", "3")
    run("status", *common, *(["--index", "demo"] if default_ok else ["--index", "demo-tiny-shapes"]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
