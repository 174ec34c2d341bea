"""``pairsim sweep`` under a time budget against the shipped recipe's default run, on one task.

Runs ``pairsim train RECIPE`` (the shipped default, unless ``--no-default``) and ``pairsim sweep RECIPE --budget B``
with the task's ``--try`` choices, each as its own process, and writes the test figure, the minutes, the trials and
the load to ``benchmarks/results/sweep_<task>.json``; prints a Markdown row per run for RESULTS.md.

    nice -n 5 python benchmarks/sweep_vs_default.py digits --budget 10m
    nice -n 5 python benchmarks/sweep_vs_default.py stsb --budget 15m --no-default
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# task -> (recipe, test metric, overrides of every trial, --try options)
TASKS: dict[str, tuple[str, str, list[str], list[str]]] = {
    "digits": ("recipes/digits_pairs.yaml", "roc_auc", [], ["train.lr=0.0003,0.001,0.003", "loss.margin=1.0,2.0"]),
    # MiniLM fine-tuning: each trial plans its own schedule through train.time_budget (its share of the budget)
    "stsb": ("recipes/stsb_minilm.yaml", "spearman", ["eval.plots=false"], ["train.lr=0.00002,0.00005,0.0001"]),
    "mrpc": ("recipes/mrpc_minilm.yaml", "accuracy", ["eval.plots=false"], ["train.lr=0.00002,0.00005,0.0001"]),
    "fashion": ("recipes/fashion_mnist_cnn.yaml", "accuracy", ["eval.plots=false"],
                ["train.lr=0.0003,0.001,0.003", "loss.margin=0.5,1.0,2.0"]),
}  # fmt: skip


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _run(argv: list[str], log: Path) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("PAIRSIM_DATA_DIR", str(REPO.parent / "shared" / "data"))
    env["PYTHONPATH"] = str(REPO)
    start, t0 = _load(), time.time()
    with log.open("w") as handle:
        rc = subprocess.run([sys.executable, "-m", "pairsim", *argv], cwd=REPO, env=env, stdout=handle,
                            stderr=subprocess.STDOUT, check=False).returncode  # fmt: skip
    return {"command": "pairsim " + shlex.join(argv), "rc": rc, "minutes": round((time.time() - t0) / 60, 2),
            "load_start": start, "load_end": _load(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--no-default", action="store_true", help="skip the shipped default run")
    parser.add_argument("--out", default="runs/bench/sweep")
    args = parser.parse_args()
    recipe, metric, fixed, tries = TASKS[args.task]
    out = REPO / args.out / args.task
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"task": args.task, "recipe": recipe, "metric": metric, "budget": args.budget}
    if not args.no_default:
        run = _run(
            ["train", recipe, f"output_dir={out / 'default'}", "--no-progress", "--overwrite"], out / "default.log"
        )
        test = json.loads((out / "default" / "metrics.json").read_text())["test"] if run["rc"] == 0 else {}
        run.update(test=test.get(metric), test_all=test)
        result["default"] = run
        print(
            f"| {recipe} default | test {metric} {run['test']} | {run['minutes']} min | 1 run | {run['load_start']} |"
        )
    sweep_dir = out / "sweep"
    argv = ["sweep", recipe, *fixed, f"output_dir={sweep_dir}", "--budget", args.budget]
    argv += [part for choice in tries for part in ("--try", choice)]
    argv += ["--resume"] if (sweep_dir / "sweep.journal").is_file() else []
    run = _run(argv, out / "sweep.log")
    if run["rc"] == 0:
        summary = json.loads((sweep_dir / "sweep.json").read_text())
        winner = summary["winner"]
        run.update(test=winner["test"][metric]["mean"], chosen=winner["params"], val=winner["val_mean"],
                   val_metric=summary["metric"], test_all={k: v["mean"] for k, v in winner["test"].items()},
                   spent_minutes=summary["spent_minutes"],
                   trials=[(r["trial"], r["params"], r["val_mean"], round(r["minutes"], 2), r["state"])
                           for r in summary["trials"]])  # fmt: skip
    result["sweep"] = run
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / f"sweep_{args.task}.json").write_text(json.dumps(result, indent=1) + "\n")
    n = len(run.get("trials", []))
    print(f"| {recipe} sweep {args.budget} | test {metric} {run.get('test')} | {run['minutes']} min | {n} trials, "
          f"chosen {run.get('chosen')} | {run['load_start']} |")  # fmt: skip


if __name__ == "__main__":
    main()
