"""Time budgets (``train.time_budget``) on a shipped recipe: does a budgeted run end within budget + 10%, with its
learning-rate schedule finished on the planned step?

Runs ``pairsim train RECIPE train.time_budget=B`` (with ``train.epochs`` raised so the budget, not the recipe,
decides the length) as a subprocess, and reports the wall time of the whole process (imports included), the run's time as the budget counts it (from the
trainer's start; its last log line) and the span of ``train.log``'s time stamps, the plan's log line, the steps
done and the last learning rate logged.

    python benchmarks/time_budget.py --recipe recipes/digits_pairs.yaml --minutes 1 \\
        --json benchmarks/results/time_budget.json train.epochs=1000 train.device=cpu
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _seconds(stamp: str) -> float:
    h, m, s = (int(x) for x in stamp.split(":"))
    return 3600 * h + 60 * m + s


def run(recipe: str, minutes: float, overrides: list[str], keep: Path | None = None) -> dict[str, Any]:
    """One budgeted run (its output directory kept at ``keep`` when given); returns its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = keep or Path(tmp) / "run"
        cmd = [sys.executable, "-m", "pairsim", "train", recipe, f"train.time_budget={minutes}", *overrides,
               f"output_dir={out}", "--no-progress"]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        log = (out / "train.log").read_text().splitlines()
        metrics = json.loads((out / "metrics.json").read_text())
    stamps = [_seconds(line[:8]) for line in log if line[:2].isdigit() and line[2] == ":"]
    run_s = (stamps[-1] - stamps[0]) % 86400
    plan = next((line[9:] for line in log if "time budget" in line and "planned" in line), "")
    took = next(line[9:] for line in log if "the run took" in line)  # "time budget 1.0 min: the run took 0.95 min"
    budget_s = 60 * float(took.split("took ")[1].split(" min")[0])
    lrs = [h["lr"] for h in metrics["history"] if "lr" in h]
    return {
        "recipe": recipe, "minutes": minutes, "overrides": overrides, "command": " ".join(cmd[1:]),
        "process_wall_s": round(wall, 1), "run_s_from_log": run_s, "run_s_as_budgeted": round(budget_s, 1),
        "budgeted_over_budget": round(budget_s / (60 * minutes), 3),
        "process_over_budget": round(wall / (60 * minutes), 3),
        "plan": plan, "steps": metrics["steps"], "last_lr": lrs[-1] if lrs else None,
        "test": {k: v for k, v in metrics["test"].items() if k in ("roc_auc", "spearman", "accuracy")},
        "stopped_early": any("stopping: time budget" in line for line in log),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/digits_pairs.yaml")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep the run's output directory here")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    result = run(args.recipe, args.minutes, args.overrides, args.keep)
    result["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result["load_1min"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=1))
    if args.json:
        rows = json.loads(args.json.read_text()) if args.json.is_file() else []
        args.json.write_text(json.dumps([*rows, result], indent=1) + "\n")


if __name__ == "__main__":
    main()
