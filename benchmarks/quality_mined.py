"""MRPC and Flickr8k trained on mined hard negatives (issue 25): mine the training split, then infonce with
explicit negatives, key masking and in-batch negatives, over seeds.

Mining (:func:`pairsim.search.mine.mine_negatives`) ranks the training split's own candidates with ``--miner``
(MRPC: all-MiniLM-L6-v2, the recipe's start, over every training sentence; Flickr8k: a trained caption-image
model over the training images, each caption's own image excluded by key). The table goes to the recipe as
``data.train_negatives`` (joined to the dataset's training split; validation and test stay the dataset's own)
with ``loss={name: infonce, negatives: n}``; ``--set`` adds recipe overrides. Writes ``--json`` with the mining
counts, every seed's test metrics and their mean +- sample sd, rewritten after each seed.

    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/quality_mined.py mrpc --seeds 0 1 2 \\
        --json benchmarks/results/mined_mrpc.json
    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/quality_mined.py flickr \\
        --miner runs/flickr8k_caption_image/model --seeds 0 1 2 --json benchmarks/results/mined_flickr.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from quality_common import REPO, load, run, show, summarize

from pairsim.data.pipeline import as_table
from pairsim.data.sources.base import load_dataset
from pairsim.recipe import Recipe
from pairsim.search.mine import mine_negatives, write_table

MINILM = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"


@dataclasses.dataclass(frozen=True)
class Task:
    recipe: str
    keys: list[str]
    scale: float  # printed x scale


TASKS = {
    "mrpc": Task("recipes/mrpc_minilm.yaml", ["accuracy", "f1", "roc_auc"], 100),
    "flickr": Task("recipes/flickr8k_caption_image.yaml",
                   ["t2i_recall@1", "t2i_recall@5", "t2i_recall@10", "i2t_recall@1", "i2t_recall@5"], 100),
}  # fmt: skip


def mine(task: str, recipe: str, args: argparse.Namespace, table: Path) -> dict[str, Any]:
    """Mine the recipe's training split with ``--miner``; write ``table``; return the counts."""
    from pairsim.model import PairModel

    splits = load_dataset(Recipe.load(REPO / recipe, [f"model.tower.model={MINILM}"]).data)
    pairs = as_table(splits.train).positives()  # (anchor, positive) rows; keys: a caption's image
    if task == "mrpc":
        miner = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.miner or MINILM)}})
        whole = as_table(splits.train)
        corpus, corpus_keys, keys = list(dict.fromkeys([*whole.a, *whole.b])), None, None
    else:
        if args.miner is None:
            raise SystemExit("flickr: --miner (a trained caption-image model directory) is needed")
        miner = PairModel.from_pretrained(args.miner)
        keys = pairs.keys("b")
        first = dict(zip(pairs.b, keys, strict=True))
        corpus, corpus_keys = list(first), list(first.values())
    t0 = time.perf_counter()
    rows, stats = mine_negatives(miner, pairs.a, pairs.b, keys=keys, corpus=corpus, corpus_keys=corpus_keys,
                                 num_negatives=args.negatives, k=args.k, skip=args.skip,
                                 relative_margin=args.relative_margin, batch_size=64)  # fmt: skip
    write_table(rows, table)
    return {"miner": str(args.miner or MINILM), "rows": stats.rows, "dropped_rows": stats.dropped_rows,
            "skipped_top": stats.skipped_top, "removed_positives": stats.positives, "removed_margin": stats.margin,
            "corpus": len(corpus), "k": args.k, "skip": args.skip, "relative_margin": args.relative_margin,
            "negatives": args.negatives, "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--miner", type=Path, default=None, help="model that mines (mrpc default: all-MiniLM-L6-v2)")
    p.add_argument("--negatives", type=int, default=1, help="mined negatives per row, all used by infonce")
    p.add_argument("-k", type=int, default=30, help="candidates retrieved per anchor")
    p.add_argument("--skip", type=int, default=0, help="top-ranked candidates passed over")
    p.add_argument("--relative-margin", type=float, default=0.05, help="a negative scores <= (1 - m) x the positive")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--set", nargs="*", default=[], help="extra recipe overrides (key=value)")
    p.add_argument("--out-root", default="runs/mined")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--reuse", action="store_true", help="train on OUT/TASK/mined.csv of an earlier run (its mining.json)"
    )
    args = p.parse_args()
    task = TASKS[args.task]
    started, load_start = time.time(), load()
    root = Path(args.out_root) / args.task
    root.mkdir(parents=True, exist_ok=True)
    table = (root / "mined.csv").resolve()
    stats = root / "mining.json"  # the counts of the table beside it, for --reuse
    if args.reuse and table.is_file() and stats.is_file():
        mining = {**json.loads(stats.read_text()), "reused": True}
    else:
        mining = mine(args.task, task.recipe, args, table)
        stats.write_text(json.dumps(mining, indent=2) + "\n")
    print(f"mined: {mining}", flush=True)
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        overrides = [
            f"data.train_negatives={table}", f"loss={{name: infonce, negatives: {args.negatives}}}",
            f"train.seed={seed}", "eval.plots=false", "train.checkpoint.keep=false", "train.validation.at_start=false",
            f"model.tower.model={MINILM}", f"output_dir={root}/seed{seed}", *args.set,
        ]  # fmt: skip
        result = run(task.recipe, overrides)
        runs.append(result)
        show(f"{args.task} mined negatives, seed {seed}", result, task.keys, task.scale)
        summary = {
            "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "wall_seconds": round(time.time() - started, 1), "load_start": load_start, "load_end": load(),
            "mining": mining, "seeds": [r["seed"] for r in runs], "test": summarize(runs, task.keys), "runs": runs,
        }  # fmt: skip
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
