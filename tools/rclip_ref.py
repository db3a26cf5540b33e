"""rclip 4.0.8 as a same-run reference for `make bench`: installed, given our model, and timed.

rclip downloads its ONNX files from the Hugging Face hub, which this machine cannot reach. It loads
them from ``$RCLIP_DATADIR/ViT-B-32-256-datacomp_s34b_b86k/{visual,textual}.onnx`` when present,
so the bench puts there the same export of ViT-B-32-256 (random weights: the same cost as the
pretrained ones) that clipsearch runs, its inputs renamed to rclip's ``input``. rclip itself runs
unchanged, with its defaults, in its own virtual environment (it needs Python 3.12 or 3.13).

What this does not show: rclip's published ONNX files may be exported or optimised differently
from ours; both runtimes here read the same graph.
"""

from __future__ import annotations

import glob
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

VERSION = "4.0.8"
SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
LEGAL = ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md")


class Unavailable(Exception):
    """rclip cannot be set up here; the message says why (the bench reports it instead of a number)."""


def find_python() -> str:
    """A Python that rclip 4 supports: $BENCH_RCLIP_PYTHON, python3.12/3.13 on PATH, or pyenv's."""
    env = os.environ.get("BENCH_RCLIP_PYTHON")
    candidates = [env] if env else []
    for name in ("python3.12", "python3.13"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{root}/versions/3.1[23].*/bin/python"))
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
                                 capture_output=True, text=True, timeout=30)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return exe
    raise Unavailable("no Python 3.12 or 3.13 found (set BENCH_RCLIP_PYTHON)")


def install(venv: Path) -> Path:
    """rclip's executable in ``venv``, installed from PyPI on first use and kept for later runs."""
    exe = venv / "bin" / "rclip"
    if exe.exists():
        return exe
    python = find_python()
    try:
        subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", f"rclip=={VERSION}"],
                       check=True, capture_output=True, timeout=900)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"pip install rclip=={VERSION} failed: {err}") from err
    return exe


def model_dir(export_folder: Path, datadir: Path) -> Path:
    """rclip's data folder holding our fp32 export under rclip's file and input names."""
    import onnx

    target = datadir / SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    for ours, theirs in (("visual.onnx", "visual.onnx"), ("text.onnx", "textual.onnx")):
        model = onnx.load(str(export_folder / ours))  # with its external weights
        old = model.graph.input[0].name
        model.graph.input[0].name = "input"
        for node in model.graph.node:
            node.input[:] = ["input" if name == old else name for name in node.input]
        onnx.save(model, str(target / theirs))
    import open_clip  # its vocabulary file is the one rclip ships

    (datadir / "tokenizer").mkdir(exist_ok=True)
    vocab = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    shutil.copy(vocab, datadir / "tokenizer" / vocab.name)
    for name in LEGAL:  # rclip checks they exist before skipping its download
        (datadir / name).write_text("Placeholder: clipsearch bench, random-weight export of ViT-B-32-256.\n")
    return datadir


def timed(exe: Path, datadir: Path, folder: Path, *args: str) -> float:
    env = dict(os.environ, RCLIP_DATADIR=str(datadir), HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    done = subprocess.run([str(exe), "-f", "-t", "1", *args], cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode:
        raise Unavailable(f"rclip exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - started


def index_seconds(exe: Path, datadir: Path, folder: Path) -> float:
    """A first `rclip <query>` in ``folder``: indexes every image (then answers one query)."""
    for db in datadir.glob("db.sqlite3*"):
        db.unlink()
    return timed(exe, datadir, folder, "a photo of a dog")


def cold_query_seconds(exe: Path, datadir: Path, folder: Path, runs: int = 3) -> float:
    """Median of new `rclip --no-indexing <query>` processes on the index built above."""
    return statistics.median(timed(exe, datadir, folder, "-n", f"a red car {i}") for i in range(runs))


def noop_seconds(exe: Path, datadir: Path, folder: Path, runs: int = 3) -> float:
    """Median of `rclip <query>` runs on a folder it has indexed: it checks every file, finds
    nothing new and answers (the no-op run clipsearch's start-up is compared with)."""
    return statistics.median(timed(exe, datadir, folder, f"a blue boat {i}") for i in range(runs))
