"""Fashion-MNIST, the two protocols of issue 11, for the seed's MLP and the CNN recipe (``--only fashion``).

* **pairs**: pairs within the standard split (train file minus 10% per class for val; test = the t10k file):
  pair accuracy at the threshold calibrated on val, ROC-AUC, EER, and 5-way one-shot accuracy on random
  test episodes (classes seen in training). The seeds' MNIST siamese example reports 97.3% pair accuracy on
  MNIST digits this way; Fashion-MNIST is harder.
* **unseen classes**: class-disjoint (``data.split=classes``): train on classes 0-4 (T-shirt, trouser,
  pullover, dress, coat; val = 10% of their images), test on the t10k images of classes 5-9 (sandal, shirt,
  sneaker, bag, ankle boot): 5-way one-shot accuracy and verification on classes never trained on.

Each (recipe, protocol) runs for every seed of ``--fashion-seeds``; figures are mean +- sample std.
"""

from __future__ import annotations

import argparse
from typing import Any

from quality_common import out, run, show, summarize

RECIPES = {"mlp": "recipes/fashion_mnist_mlp.yaml", "cnn": "recipes/fashion_mnist_cnn.yaml"}
PROTOCOLS = {
    "pairs": [],
    "unseen_classes": ["data.split=classes", "data.val_classes=[]", "data.test_classes=[5,6,7,8,9]"],
}
KEYS = ["accuracy", "roc_auc", "eer", "oneshot_accuracy"]


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fashion-seeds", type=int, nargs="+", default=[0], help="training seeds (one by default: the CPU budget)"
    )
    p.add_argument("--fashion-recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Every recipe x protocol x seed; returns ``{recipe: {protocol: {"runs": [...], "summary": {...}}}}``."""
    res: dict[str, Any] = {"anchor": "the seeds' MNIST siamese MLP: 97.3% test pair accuracy on MNIST digits"}
    quick = ["data.limit=600", "train.schedule.max_steps=2", "eval.pairs=100", "eval.episodes=10"] if args.quick else []
    for arch in args.fashion_recipes:
        res[arch] = {}
        for protocol, overrides in PROTOCOLS.items():
            runs = []
            for seed in args.fashion_seeds:
                extra = [*overrides, f"train.seed={seed}", "eval.plots=false", "train.checkpoint.every=0", *quick,
                         out(args, f"fashion_{arch}_{protocol}_seed{seed}")]  # fmt: skip
                result = run(RECIPES[arch], extra)
                show(f"Fashion-MNIST {arch} {protocol} seed {seed}", result, KEYS)
                runs.append(result)
            summary = summarize(runs, KEYS)
            res[arch][protocol] = {"runs": runs, "summary": summary}
            print(f"\n== Fashion-MNIST {arch} {protocol}, seeds {args.fashion_seeds} (mean +- std): "
                  + ", ".join(f"{k}={v['mean']:.4f}+-{v['std']:.4f}" for k, v in summary.items()), flush=True)  # fmt: skip
    return res
