"""What every ``quality*.py`` benchmark shares: the environment (offline, the shared data), running a recipe as
``pairsim train`` does, reading a finished run, evaluating a model untrained, and printing a figure with its command.

Task modules (``quality_<task>.py``) import from here; ``quality.py`` is the command line over all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PAIRSIM_DATA_DIR" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
    os.environ["PAIRSIM_DATA_DIR"] = str(REPO.parent / "shared" / "data")

from pairsim.recipe import Recipe  # noqa: E402
from pairsim.train.trainer import Trainer  # noqa: E402


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def command(recipe: str, overrides: list[str]) -> str:
    data = os.environ.get("PAIRSIM_DATA_DIR", "")
    if data and Path(data).resolve().is_relative_to(REPO.parent):
        data = os.path.relpath(Path(data).resolve(), REPO)
    return f"PAIRSIM_DATA_DIR={data} pairsim train {recipe} " + " ".join(shlex.quote(o) for o in overrides)


def run(recipe: str, overrides: list[str]) -> dict[str, Any]:
    """Train (or only evaluate, with ``train.epochs=0``) one recipe; returns test metrics and bookkeeping."""
    r = Recipe.load(REPO / recipe, overrides)
    start_load = load()
    t0 = time.perf_counter()
    metrics = Trainer(r, progress=False, overwrite=True).run()  # a rerun replaces its earlier run
    seconds = time.perf_counter() - t0
    return {"test": metrics["test"], "steps": metrics["steps"], "best_epoch": metrics["best_epoch"],
            "best_val": metrics.get("best_val"),
            "seconds": round(seconds, 1), "command": command(recipe, overrides), "seed": r.train.seed,
            "load_start": start_load, "load_end": load()}  # fmt: skip


def recorded(run_dir: str) -> dict[str, Any]:
    """A finished ``pairsim train`` run (``--record NAME=DIR``), in :func:`run`'s shape: its test metrics, the
    command rebuilt from its resolved recipe, the wall time between the first and last lines of its
    ``train.log``, and the load averages it wrote to ``load.txt`` at its start and end where present."""
    from pairsim.config import load_yaml

    out_dir = Path(run_dir)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    recipe = load_yaml((out_dir / "recipe.yaml").read_text())
    stamps = [line[:8] for line in (out_dir / "train.log").read_text().splitlines() if line[:2].isdigit()]
    first, last = (
        sum(int(x) * m for x, m in zip(t.split(":"), (3600, 60, 1), strict=True)) for t in (stamps[0], stamps[-1])
    )
    loads = (out_dir / "load.txt").read_text().splitlines() if (out_dir / "load.txt").is_file() else ["?", "?"]
    cmd = (
        (out_dir / "command.txt").read_text().strip()
        if (out_dir / "command.txt").is_file()
        else f"pairsim train {out_dir}/recipe.yaml"
    )
    return {"test": metrics["test"], "steps": metrics["steps"], "best_epoch": metrics["best_epoch"],
            "seconds": (last - first) % 86400, "command": cmd, "seed": recipe["train"]["seed"],
            "load_start": loads[0], "load_end": loads[-1], "recorded_from": str(out_dir)}  # fmt: skip


def evaluate_untrained(recipe: str, overrides: list[str]) -> dict[str, Any]:
    """The recipe's model as loaded (pretrained weights, no training step), evaluated as the Trainer evaluates
    a run that never validated: threshold calibrated on the validation split, then the test split.

    (``pairsim train RECIPE train.epochs=0`` is meant to do the same, but it stops in ``plot_curves`` on an
    empty history, so the benchmark calls the evaluation directly.)
    """
    from pairsim.data import load_dataset, side_inputs
    from pairsim.evaluate import evaluate_split
    from pairsim.model import PairModel

    r = Recipe.load(REPO / recipe, overrides)
    start_load = load()
    t0 = time.perf_counter()
    splits = load_dataset(r.data)
    model = PairModel(r.model)
    model.adapt(*side_inputs(splits.train))  # sizes vocabularies (a no-op for a transformer)
    model.load_pretrained()
    val, _ = evaluate_split(model, splits.val, r.eval, split="val", calibrate=True)
    model.config.threshold = val.get("threshold")
    test, _ = evaluate_split(model, splits.test, r.eval, split="test", calibrate=False)
    seconds = time.perf_counter() - t0
    return {"test": test, "val": val, "steps": 0, "best_epoch": None, "seconds": round(seconds, 1),
            "command": f"python benchmarks/quality.py (evaluate_untrained) {recipe} " + " ".join(map(shlex.quote, overrides)),
            "load_start": start_load, "load_end": load()}  # fmt: skip


def show(title: str, result: dict[str, Any], keys: list[str], scale: float = 1.0) -> None:
    test = result["test"]
    figures = ", ".join(f"{k}={test[k] * scale:.2f}" if scale != 1 else f"{k}={test[k]:.4f}" for k in keys if k in test)
    print(f"\n== {title}: {figures}\n   {result['steps']} steps, {result['seconds']:.0f} s, {result['load_start']} -> "
          f"{result['load_end']}\n   command: {result['command']}", flush=True)  # fmt: skip


def out(args: argparse.Namespace, name: str) -> str:
    return f"output_dir={args.out_root}/{name}"


def summarize(runs: list[dict[str, Any]], keys: list[str]) -> dict[str, dict[str, float]]:
    out_: dict[str, dict[str, float]] = {}
    for k in keys:
        values = [r["test"][k] for r in runs if k in r["test"]]
        if values:
            out_[k] = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                       "values": values}  # fmt: skip
    return out_
