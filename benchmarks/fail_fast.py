"""How soon a run with an evaluation setting its splits cannot meet stops (issue 24: "a 5-way episode evaluation
failed only after 76 s of fitting").

Runs ``pairsim train RECIPE eval.n_way=N`` (N above the validation split's classes) with this checkout and with a
reference checkout (e.g. the commit before the early checks, unpacked with ``git archive``), and prints each one's
wall time and CPU time (user + system, of the child process: on a loaded shared machine the steadier figure) to
its one-line error, and their ratio.

Example:
    git archive bd84469 | tar -x -C /tmp/base
    OMP_NUM_THREADS=2 nice -n 5 python benchmarks/fail_fast.py --reference /tmp/base \
        --recipe recipes/att_faces_efficientnet.yaml eval.n_way=9 model.tower.weights=$PWD/../shared/models/...
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def time_to_error(tree: Path, recipe: str, overrides: list[str]) -> tuple[float, float, int, str]:
    """``(wall seconds, CPU seconds, exit code, last stderr line)`` of ``pairsim train`` run from ``tree``."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [sys.executable, "-m", "pairsim", "train", recipe, *overrides, f"output_dir={out}/run", "--no-progress"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        # run from the tree itself: ``python -m`` puts the current folder ahead of PYTHONPATH
        done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return seconds, cpu, done.returncode, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="source tree of the reference checkout")
    parser.add_argument("--recipe", default="recipes/att_faces_efficientnet.yaml")
    parser.add_argument("overrides", nargs="*", default=["eval.n_way=9"])
    args = parser.parse_args()
    rows = [("this checkout", REPO), ("reference", args.reference)]
    cpu = {}
    for name, tree in rows:
        seconds, cpu[name], code, last = time_to_error(tree, str((REPO / args.recipe).resolve()), args.overrides)
        print(f"{name}: {seconds:.1f} s wall, {cpu[name]:.1f} s CPU to exit {code}: {last}")
    print(f"CPU time ratio reference / this checkout: {cpu['reference'] / cpu['this checkout']:.1f}x")


if __name__ == "__main__":
    main()
