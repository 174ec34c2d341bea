"""One recipe (with ``key=value`` overrides) trained over several seeds: test metrics per seed and mean +- sd.

Each seed runs as ``pairsim train RECIPE overrides... train.seed=S output_dir=OUT/seedS`` would, and the JSON is
rewritten after every finished seed, so a budget cut short still leaves its figures. Used for the MRPC loss
comparison of issue 25 (contrastive recipe against CoSENT) and for any "3 seeds of this variant" row.

    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/quality_seeds.py recipes/mrpc_minilm.yaml \
        'loss={name: cosent}' --seeds 0 1 2 --keys accuracy f1 roc_auc --out runs/seeds/mrpc_cosent \
        --json benchmarks/results/mrpc_cosent.json
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from quality_common import load, run, show, summarize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("recipe", help="a recipe path relative to the repository, e.g. recipes/mrpc_minilm.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, as `pairsim train` takes them")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--keys", nargs="+", default=["accuracy", "f1", "roc_auc"], help="test metrics to summarize")
    parser.add_argument("--out", required=True, help="run directories go to OUT/seedS")
    parser.add_argument("--json", required=True, help="where to write the per-seed and mean +- sd figures")
    args = parser.parse_args()

    started, start_load = datetime.datetime.now(datetime.UTC), load()
    runs = []
    for seed in args.seeds:
        overrides = [*args.overrides, f"train.seed={seed}", f"output_dir={args.out}/seed{seed}",
                     "eval.plots=false", "train.checkpoint.keep=false"]  # fmt: skip
        result = run(args.recipe, overrides)
        show(f"{args.recipe} seed {seed}", result, args.keys)
        runs.append(result)
        report = {
            "recipe": args.recipe, "overrides": args.overrides, "seeds": [r["seed"] for r in runs],
            "date": started.strftime("%Y-%m-%d %H:%M UTC"), "load_start": start_load, "load_end": load(),
            "summary": summarize(runs, args.keys), "runs": runs,
        }  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
