"""benchmarks/gpu.sh: its CPU dry run writes every row's figures (CI's check that the GPU script runs), and
without CUDA and without --dry-run it says so and stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu.sh"


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "PAIRSIM_DATA_DIR": str(data), "PAIRSIM_MINILM": str(data / "none")}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_the_dry_run_writes_every_row_and_skips_omniglot_without_its_data(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    done = run("--dry-run", "--out", str(out), data=tmp_path)  # an empty data folder: no STS-B, no Omniglot
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["device"] == "cpu" and report["model"].startswith("random BERT 2x32")
    rows = report["rows"]
    (encode,) = rows["encode"]
    assert encode["texts"] == 32 and encode["pairsim_texts_per_s_best"] > 0 and encode["st_texts_per_s_best"] > 0
    assert encode["max_abs_embedding_diff"] < 1e-4  # both sides embed with the same random BERT and pooling
    train = rows["train"]
    assert train["pairsim_pairs_per_s_best"] > 0 and train["st_pairs_per_s_best"] > 0
    assert train["first_batch_loss_pairsim"] == pytest.approx(train["first_batch_loss_st"], rel=1e-4)
    step = rows["tower_step"]
    assert step["batch"] == 8 and step["fp32_step_s"] > 0 and step["bf16_step_s"] > 0 and step["mfu"] is None
    assert step["train_flops_per_step"] == 3 * 8 * 16 * (2 * step["non_embedding_params"] + 4 * 2 * 16 * 32)
    assert rows["omniglot"] == {"skipped": f"no Omniglot data at {tmp_path / 'omniglot'}"}
    assert "omniglot: skipped: no Omniglot data" in done.stdout
    shown = run("--table", str(out), data=tmp_path)  # the Markdown rows RESULTS.md takes
    assert shown.returncode == 0 and "| tower_step | batch 8x16: fp32" in shown.stdout
    assert f"| omniglot | skipped: no Omniglot data at {tmp_path / 'omniglot'} |" in shown.stdout


def test_without_cuda_and_without_dry_run_it_says_so(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    done = run("--out", str(tmp_path / "gpu.json"), data=tmp_path)
    assert done.returncode == 2 and "no CUDA device here" in done.stderr and not (tmp_path / "gpu.json").exists()
