"""Shared fixtures: a tiny random open_clip model on disk, corpus copies, and a CLI runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

CORPUS = Path(__file__).parent / "corpus"

UNIT = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under ``tests/unit/`` are unit tests (a function, a class, the project's own rules:
    seconds, nothing stood up); the others stand the product up as a user meets it (a command, an
    index on disk, a server, a browser, PostgreSQL, Ray). ``make test-unit`` runs the first alone."""
    for item in items:
        item.add_marker(pytest.mark.unit if UNIT in Path(str(item.path)).parents else pytest.mark.e2e)


TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@dataclass(frozen=True)
class TinyModel:
    config: Path
    weights: Path

    @property
    def args(self) -> list[str]:
        return ["--model", str(self.config), "--pretrained", str(self.weights)]


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported ONNX towers go to a folder of this test session (subprocesses inherit it)."""
    import os

    folder = tmp_path_factory.mktemp("onnx-cache")
    os.environ["CLIPSEARCH_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A randomly initialised open_clip config saved to a weights file (no download)."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny-model")
    config = folder / "tiny-test-clip.json"
    config.write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-test-clip")
    weights = folder / "tiny-test-clip.pt"
    torch.save(model.state_dict(), weights)
    return TinyModel(config, weights)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A writable copy of a few corpus photos and drawings (distinct pictures)."""
    root = tmp_path / "pictures"
    (root / "photos").mkdir(parents=True)
    (root / "drawings").mkdir()
    for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "horse.png", "retina.jpg"]:
        shutil.copy2(CORPUS / "photos" / name, root / "photos" / name)
    for name in ["BM_part.jpg", "Gripper.jpg", "halter.jpg", "Gripper.json"]:
        shutil.copy2(CORPUS / "drawings" / name, root / "drawings" / name)
    return root


class Cli:
    """Runs ``clipsearch`` in-process with an isolated home; parses JSON output."""

    def __init__(self, home: Path, ocr: str = "none") -> None:
        self.home = home
        self.ocr = ocr
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        from clipsearch.cli import cli

        # OCR is tested on its own (test_text_search.py); elsewhere it would only slow every index run
        env = {"CLIPSEARCH_HOME": str(self.home), "CLIPSEARCH_OCR": self.ocr}
        result = self.runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"clipsearch {' '.join(args)} exited {result.exit_code}: {result.stderr}")
        return result

    def json(self, *args: str) -> object:
        result = self(*args, "--json")
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def make_jpeg() -> Callable[..., Path]:
    from PIL import Image

    def make(path: Path, size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, color).save(path, "JPEG", quality=90)
        return path

    return make


@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """One real PostgreSQL server for the session (tools/pgserver.py). Skipped where Debian's
    ``postgresql`` package is missing; under CI (.ci/run installs it) that is a failure instead."""
    import os

    from tools import pgserver

    if pgserver.bin_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install postgresql (.ci/run does)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with pgserver.running() as server:
        yield server


@pytest.fixture
def pg_url(pg_server, request: pytest.FixtureRequest) -> str:  # type: ignore[no-untyped-def]
    """A new empty database on the session's server: its URL, password included."""
    import re

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return pg_server.create_database(name)
