"""Flickr8k caption-image retrieval on held-out images (``--only flickr``): the shipped recipe against the
frozen-tower baseline, both over ``--flickr-seeds``.

* **recipe**: ``recipes/flickr8k_caption_image.yaml`` as shipped (LiT-style: the image backbone locked, the
  text encoder tuned slower than the two projections).
* **frozen towers**: the same model with the text encoder frozen too (``train.tower.freeze=[encoder]``): only
  the two linear projections and the temperature train. The recipe must beat it.

Recall@1/5/10 text-to-image and image-to-text over the 100 test images (500 captions); mean +- sample std
over seeds. Both frozen parts are encoded once per run (``train.speed.cache_frozen``).
"""

from __future__ import annotations

import argparse
from typing import Any

from quality_common import out, run, show, summarize

RECIPE = "recipes/flickr8k_caption_image.yaml"
KEYS = ["t2i_recall@1", "t2i_recall@5", "t2i_recall@10", "i2t_recall@1", "i2t_recall@5", "i2t_recall@10"]
VARIANTS = {"recipe": [], "frozen_towers": ["train.tower.freeze=[encoder]"]}


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flickr-seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    p.add_argument("--flickr-epochs", type=int, default=0, help="0: the recipe's")
    p.add_argument("--flickr-variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Every variant x seed; returns ``{variant: {"runs": [...], "summary": {...}}}``."""
    common = ["train.checkpoint.every=0", "eval.plots=false"]
    if args.quick:
        common += ["data.max_images=80", "train.schedule.max_steps=2", "train.validation.at_start=false"]
    elif args.flickr_epochs:
        common.append(f"train.epochs={args.flickr_epochs}")
    res: dict[str, Any] = {"anchor": "no anchor for this 1,000-image subset; the frozen-tower baseline is the bar"}
    for variant in args.flickr_variants:
        runs = []
        for seed in args.flickr_seeds:
            overrides = [*VARIANTS[variant], *common, f"train.seed={seed}", out(args, f"flickr8k_{variant}_seed{seed}")]
            result = run(RECIPE, overrides)
            show(f"Flickr8k {variant} seed {seed} (Recall@K x100)", result, KEYS, 100)
            runs.append(result)
        summary = summarize(runs, KEYS)
        res[variant] = {"runs": runs, "summary": summary}
        print(f"\n== Flickr8k {variant}, seeds {args.flickr_seeds} (mean +- std): "
              + ", ".join(f"{k}={v['mean']:.3f}+-{v['std']:.3f}" for k, v in summary.items()), flush=True)  # fmt: skip
    return res
