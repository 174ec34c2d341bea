"""Training steps/s of the digits recipe at several ``train.speed.threads`` settings, idle and under a competing load.

The competing load is one busy-loop process per ``--busy`` (pure Python, one core each), started before the
timed runs and stopped after. Each setting is timed ``--repeats`` times in turn (A B C, A B C, ...), and the
median of its runs is reported. Only the training loop is timed (data loading and evaluation excluded).

Usage:
    OMP_NUM_THREADS= python benchmarks/threads.py --threads 0 1 2 --busy 0 1 --steps 30
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _busy() -> None:  # pragma: no cover - a load generator
    while True:
        pass


def time_run(threads: int, steps: int) -> float:
    """Steps per second of the digits recipe's training loop at ``train.speed.threads=threads``."""
    from pairsim.recipe import Recipe
    from pairsim.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        recipe = Recipe.load(REPO / "recipes" / "digits_pairs.yaml", [
            f"train.speed.threads={threads}", "train.epochs=1", f"train.schedule.steps_per_epoch={steps}", "train.device=cpu",
            "train.validation.at_start=false", "train.validation.every_epoch=false", "eval.pairs=20", "eval.episodes=0",
            "eval.plots=false", f"output_dir={out}/run",
        ])  # fmt: skip
        trainer = Trainer(recipe, progress=False)
        took: list[float] = []
        real = Trainer._train

        def timed(self: Trainer, rt: object) -> None:
            start = time.perf_counter()
            real(self, rt)
            took.append(time.perf_counter() - start)

        Trainer._train = timed  # type: ignore[method-assign]
        try:
            trainer.run()
        finally:
            Trainer._train = real  # type: ignore[method-assign]
    return steps / took[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.environ.get("OMP_NUM_THREADS"):
        print("note: OMP_NUM_THREADS is set; train.speed.threads overrides it inside the run", file=sys.stderr)
    from pairsim.train.threads import default_threads

    rows = []
    for busy in args.busy:
        procs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(busy)]
        for p in procs:
            p.start()
        try:
            runs: dict[int, list[float]] = {t: [] for t in args.threads}
            for _ in range(args.repeats):
                for t in args.threads:
                    runs[t].append(time_run(t, args.steps))
        finally:
            for p in procs:
                p.terminate()
                p.join()
        for t in args.threads:
            row = {"busy": busy, "threads": t, "resolved": t or default_threads(), "steps_per_s": runs[t],
                   "median": statistics.median(runs[t]), "load1": os.getloadavg()[0]}  # fmt: skip
            rows.append(row)
            print(f"busy={busy} threads={t} ({row['resolved']}): median {row['median']:.2f} steps/s, runs "
                  f"{', '.join(f'{r:.2f}' for r in runs[t])}, load {row['load1']:.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
