"""Omniglot 20-way one-shot on the 20 official within-alphabet runs, the CPU recipe (``--only omniglot``).

``recipes/omniglot_protonet.yaml`` (Conv-4 at 28x28, prototypical loss on 60-way episodes with rotated
characters as extra classes, trained on the 30 background alphabets only) for each seed of
``--omniglot-seeds``, ``--omniglot-epochs`` epochs of 1,000 episodes each. Figures: the official-runs
accuracy per seed with its 95% interval over the 20 runs, the mean and spread over seeds, and the wall
minutes per seed (training and evaluation). ``--omniglot-record DIR`` takes a seed's figures from a finished
``pairsim train`` run of the recipe (its own seed, read from its recipe.yaml) instead of training it again.

Anchors on this protocol: Koch et al. 2015 92.0%; prototypical networks 86.3% (Lake et al. 2019); people
95.5%; Bayesian program learning 96.7%. The Koch-faithful 105x105 recipe (``omniglot_oneshot.yaml``) is for
a GPU.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from quality_common import out, recorded, run, show, summarize

RECIPE = "recipes/omniglot_protonet.yaml"
KEYS = ["official_accuracy", "official_ci95_low", "official_ci95_high", "oneshot_accuracy"]


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--omniglot-seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    p.add_argument("--omniglot-epochs", type=int, default=1, help="epochs of 1,000 episodes (the recipe: 20)")
    p.add_argument("--omniglot-record", action="append", default=[], metavar="RUN_DIR",
                   help="a finished run of the recipe: its seed is taken from it, not trained again")  # fmt: skip


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Every seed; returns ``{"runs": [...], "summary": {...}, "minutes_per_seed": ...}``."""
    done = {}
    for run_dir in args.omniglot_record:
        result = recorded(run_dir)
        done[result["seed"]] = result
    runs = []
    for seed in args.omniglot_seeds:
        if seed in done:
            result = done[seed]
        else:
            epochs = ["train.max_steps=2", "train.eval_at_start=false", "eval.episodes=10"] if args.quick else []
            overrides = [f"train.seed={seed}", f"train.epochs={args.omniglot_epochs}", *epochs, "eval.plots=false",
                         "train.checkpoint_every=0", out(args, f"omniglot_protonet_seed{seed}")]  # fmt: skip
            result = run(RECIPE, overrides)
        show(f"Omniglot protonet seed {seed} (20 official runs)", result, KEYS)
        runs.append(result)
    summary = summarize(runs, KEYS)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    acc = summary["official_accuracy"]
    print(f"\n== Omniglot official runs over seeds {args.omniglot_seeds}: {acc['mean']:.4f} +- {acc['std']:.4f} "
          f"(per seed {', '.join(f'{v:.3f}' for v in acc['values'])}); {minutes:.1f} wall min per seed", flush=True)  # fmt: skip
    return {"anchor": "Koch et al. 92.0%; people 95.5%", "runs": runs, "summary": summary,
            "minutes_per_seed": minutes, "epochs": args.omniglot_epochs}  # fmt: skip
