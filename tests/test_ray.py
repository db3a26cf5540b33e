"""`index --ray local`: decoding as Ray tasks, the encoder in an actor, commits in the driver. The same
items and ranking as a plain run; a worker killed mid-run loses and doubles nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _ranking(cli, query: str) -> list[tuple[str, float]]:
    return [(h["path"], round(h["score"], 4)) for h in cli.json("search", query, "-k", "20")]


def test_ray_gives_the_same_items_and_ranking_as_a_plain_run(cluster, photos, tmp_path):
    from conftest import Cli

    plain, spread = Cli(tmp_path / "plain"), Cli(tmp_path / "ray")
    a = plain.json("index", str(photos), "--model", "tiny-shapes", "--precision", "fp32", "--runtime", "onnx")
    b = spread.json("index", str(photos), "--model", "tiny-shapes", "--precision", "fp32", "--runtime", "onnx",
                    "--ray", "local")  # fmt: skip
    assert (a["added"], a["items"], a["embedded"]) == (b["added"], b["items"], b["embedded"]) == (9, 9, 9)
    for query in ("a red circle", "a blue square", "a technical drawing"):
        assert _ranking(spread, query) == _ranking(plain, query)
    assert spread.json("index", str(photos), "--ray", "local")["unchanged"] == 9  # a rerun embeds nothing
    assert spread("check").exit_code == 0


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(cluster, tmp_path, make_jpeg):
    """SIGKILL one Ray worker process while the run is under way: Ray retries its task or restarts
    the actor; every file ends up in the catalog exactly once."""
    import psutil
    from conftest import Cli

    folder = tmp_path / "many"
    for i in range(120):
        make_jpeg(folder / f"p{i:03d}.jpg", (96, 72), (i * 2 % 255, (i * 7) % 255, (i * 13) % 255))
    cli = Cli(tmp_path / "home")
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if "ray::" in cmd and ("_decode" in cmd or "MapBatches" in cmd or "_Embed" in cmd):
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    report = cli.json("index", str(folder), "--model", "tiny-shapes", "--ray", "local")
    killer.join()
    assert killed, "no Ray worker was found to kill"
    assert report["items"] == 120 and report["added"] == 120
    status = cli.json("status")
    assert status["items"] == status["files"] == 120
    assert cli("check").exit_code == 0
    assert cli.json("index", str(folder), "--ray", "local")["unchanged"] == 120
