"""Start-up cost of a command: ``pairsim score`` of 2 image pairs with the digits CNN against ``python -c "import
torch"`` (the floor of any torch-backed command), wall time and peak memory, as a ratio.

Runs alternate (torch, score, torch, score, ...) so both see the same machine load; each is a fresh process,
its wall time measured from outside and its peak RSS read from ``getrusage(RUSAGE_CHILDREN)`` of a tiny
wrapper process (so one run's peak never hides another's). The report gives medians and their ratios, and the
heavy libraries the score command imported (none of transformers, torchvision, sentence_transformers,
datasets, pandas, sklearn, matplotlib, scipy should be). A digits model is trained once into a temporary
folder with ``recipes/digits_pairs.yaml`` (1 epoch, width 0.25) unless ``--model`` names one.

Run from the repository root (about 2 minutes on 2 CPU cores at 7 pairs of runs)::

    python benchmarks/startup.py --runs 7 --json benchmarks/results/startup.json

``--repo DIR`` measures another checkout (an older commit) with the same script and model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("transformers", "torchvision", "sentence_transformers", "datasets", "pandas", "sklearn", "matplotlib", "scipy")
# run a command as a child and print its peak RSS (kB on Linux) on stderr's last line
PEAK = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def train_digits(folder: Path, env: dict[str, str]) -> Path:
    """A small digits model trained with the repository's recipe (1 epoch): ``folder/run/model``."""
    argv = [sys.executable, "-m", "pairsim", "train", str(REPO / "recipes" / "digits_pairs.yaml"),
            "train.epochs=1", "model.tower.width=0.25", "eval.episodes=0", "eval.pairs=100",
            f"output_dir={folder / 'run'}", "--no-progress"]  # fmt: skip
    subprocess.run(argv, check=True, env=env, cwd=folder, capture_output=True)
    return folder / "run" / "model"


def digit_files(folder: Path) -> tuple[Path, Path]:
    """Two files of two digit image paths each (PNG, 8x8 grayscale, from scikit-learn's digits)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    images = load_digits().images[:4]  # (4, 8, 8) floats 0-16
    paths = []
    for i, image in enumerate(images):
        path = folder / f"digit{i}.png"
        Image.fromarray(np.round(image / 16 * 255).astype(np.uint8)).save(path)
        paths.append(path)
    a, b = folder / "a.txt", folder / "b.txt"
    a.write_text(f"{paths[0]}\n{paths[1]}\n")
    b.write_text(f"{paths[2]}\n{paths[3]}\n")
    return a, b


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process running ``argv`` in ``cwd`` (not a checkout: ``-m``
    would import pairsim from the current folder before ``PYTHONPATH``)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *argv], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return wall, int(done.stderr.strip().splitlines()[-1]) / 1024


def imported_heavy(argv: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    """Which of :data:`HEAVY` the command imported (its ``-X importtime`` log)."""
    argv = [sys.executable, "-X", "importtime", *argv[1:]]
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return sorted(name for name in HEAVY if name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="pairs of runs (torch, score)")
    parser.add_argument("--model", help="a saved digits model (default: train one into a temporary folder)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--repo", default=str(REPO), help="the pairsim checkout to measure (e.g. an older one)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": args.repo, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    began, load_before = time.time(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = Path(args.model) if args.model else train_digits(folder, env)
        a, b = digit_files(folder)
        torch_argv = [sys.executable, "-c", "import torch"]
        score_argv = [sys.executable, "-m", "pairsim", "score", str(a), str(b), "--model", str(model),
                      "--device", "cpu"]  # fmt: skip
        timed(score_argv, env, folder)  # warm the file cache once, for both
        runs: dict[str, list[tuple[float, float]]] = {"torch": [], "score": []}
        for _ in range(args.runs):
            runs["torch"].append(timed(torch_argv, env, folder))
            runs["score"].append(timed(score_argv, env, folder))
        heavy = imported_heavy(score_argv, env, folder)
    median = {
        name: {"wall_s": statistics.median(w for w, _ in rows), "peak_mb": statistics.median(m for _, m in rows)}
        for name, rows in runs.items()
    }
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_1min_before_after": [load_before, os.getloadavg()[0]],
        "repo": args.repo,
        "runs": args.runs,
        "median": median,
        "ratio_wall": median["score"]["wall_s"] / median["torch"]["wall_s"],
        "ratio_peak": median["score"]["peak_mb"] / median["torch"]["peak_mb"],
        "heavy_imports_of_score": heavy,
        "all_runs": runs,
        "bench_wall_s": round(time.time() - began, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
