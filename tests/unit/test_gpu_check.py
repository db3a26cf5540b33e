"""tools/gpu_check.py, the one script a GPU machine runs, on the CPU paths here with small sizes:
it must run end to end and report each figure (on a GPU it adds the busy share and GPU k-means)."""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def test_gpu_check_runs_on_the_cpu_and_reports_every_figure(tiny_model):
    sys.path.insert(0, str(TOOLS))
    import gpu_check

    out = gpu_check.main(["--images", "12", "--batch", "5", "--size", "96", "64", "--kmeans-n", "3000", "--k", "16",
                          "--model", str(tiny_model.config), "--pretrained", str(tiny_model.weights),
                          "--device", "cpu"])  # fmt: skip
    assert out["device"] == "cpu"
    assert out["embed"]["images"] == 12 and out["embed"]["images_per_s"] > 0
    assert out["embed"]["gpu_busy_share"] is None  # no CUDA events on a CPU
    assert out["kmeans"]["on"] == "cpu" and out["kmeans"]["kmeans_s"] >= 0 and out["kmeans"]["k"] == 16
