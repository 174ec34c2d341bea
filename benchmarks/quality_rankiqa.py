"""Image quality ranking (RankIQA, Liu et al. 2017) on Flickr8k with synthetic distortions (``--only rankiqa``).

The ``rankiqa`` recipe (a siamese ranker: EfficientNet-Lite0 scoring one image with one number, margin ranking
loss on pairs of one image's versions) against two no-training baselines on the same held-out images:

* **untrained tower**: the recipe's model as built (ImageNet backbone, random out_dim-1 projection);
* **variance of the Laplacian**: a classic sharpness score (higher = sharper). It ranks blur and, mostly, JPEG
  the right way, but noise adds high frequencies and raises it: on noise it ranks the wrong way round.

Figures: Spearman of the score with the negated distortion level (``rank_spearman``, pooled over all test items;
``rank_spearman_per_group``, the mean over each image under one distortion), on the test images with the
training distortions (blur, noise) and with the held-out one (JPEG: ``heldout_distortion_*``).
"""

from __future__ import annotations

import argparse
import shlex
import time
from typing import Any

from quality_common import REPO, load, out, run, show

from pairsim.data import build_source
from pairsim.data.distortions import laplacian_variance
from pairsim.metrics import ranking_metrics
from pairsim.recipe import Recipe

RECIPE = "recipes/rankiqa.yaml"
KEYS = [
    "rank_spearman",
    "rank_spearman_per_group",
    "heldout_distortion_rank_spearman",
    "heldout_distortion_rank_spearman_per_group",
]
ANCHOR = "no published figure for this synthetic protocol; the two no-training baselines are the comparison"


def add_args(p: argparse.ArgumentParser) -> None:
    """The task's options: ``--rankiqa-seeds`` (training seeds, one run each)."""
    p.add_argument("--rankiqa-seeds", type=int, nargs="+", default=[0], help="training seeds of the recipe")


def laplacian(overrides: list[str]) -> dict[str, Any]:
    """The variance-of-the-Laplacian baseline on the recipe's test images, training and held-out distortions.

    Args:
        overrides: Recipe overrides (the data section matters).

    Returns:
        A run-shaped result: ``test`` metrics (``heldout_distortion_*`` included), command, wall time, load.
    """
    r = Recipe.load(REPO / RECIPE, overrides)
    start_load, t0 = load(), time.perf_counter()
    source = build_source(r.data)
    test, held = source.load().test, source.heldout("test")
    metrics = ranking_metrics([laplacian_variance(it) for it in test.items], test.labels, test.groups)
    if held is not None:
        scores = [laplacian_variance(it) for it in held.items]
        metrics.update(
            {f"heldout_distortion_{k}": v for k, v in ranking_metrics(scores, held.labels, held.groups).items()}
        )
    return {"test": metrics, "steps": 0, "best_epoch": None, "seconds": round(time.perf_counter() - t0, 1),
            "seed": r.data.seed, "load_start": start_load, "load_end": load(),
            "command": "python benchmarks/quality.py --only rankiqa  # laplacian() " + " ".join(map(shlex.quote, overrides))}  # fmt: skip


def untrained(overrides: list[str]) -> dict[str, Any]:
    """The recipe's model as built (pretrained backbone, untrained projection) on the test images, with the
    source's held-out distortion metrics (what the Trainer reports for a trained run)."""
    from pairsim.evaluate import evaluate_split
    from pairsim.model import PairModel

    r = Recipe.load(REPO / RECIPE, overrides)
    start_load, t0 = load(), time.perf_counter()
    source = build_source(r.data)
    model = PairModel(r.model)
    model.load_pretrained()
    test, _ = evaluate_split(model, source.load().test, r.eval, split="test", calibrate=False, source=source)
    return {"test": test, "steps": 0, "best_epoch": None, "seconds": round(time.perf_counter() - t0, 1),
            "seed": r.train.seed, "load_start": start_load, "load_end": load(),
            "command": "python benchmarks/quality.py --only rankiqa  # untrained() " + " ".join(map(shlex.quote, overrides))}  # fmt: skip


def stronger(res: dict[str, Any], metric: str) -> str:
    """The baseline (``untrained`` or ``laplacian``) with the higher ``metric`` on the test split."""
    return max(("untrained", "laplacian"), key=lambda name: res[name]["test"].get(metric, float("-inf")))


def task(args: argparse.Namespace) -> dict[str, Any]:
    """Both baselines, then the recipe for each seed of ``--rankiqa-seeds``.

    Returns:
        ``{"laplacian": run, "untrained": run, "trained": run (first seed), "seeds": [runs], "baseline": name of the
        stronger baseline on pooled test Spearman, "heldout_baseline": the same on the held-out distortion}``.
    """
    quick = ["data.max_images=40", "train.schedule.max_steps=2", "model.tower.image_size=[64,64]", "data.side=64"]
    common = ["eval.plots=false", "train.checkpoint.every=0", *(quick if args.quick else [])]
    res: dict[str, Any] = {"anchor": ANCHOR}
    res["laplacian"] = laplacian(common)
    show("RankIQA variance of the Laplacian (no training)", res["laplacian"], KEYS)
    res["untrained"] = untrained(common)
    show("RankIQA untrained tower (ImageNet backbone, random projection)", res["untrained"], KEYS)
    runs = []
    for seed in args.rankiqa_seeds:
        result = run(RECIPE, [*common, f"train.seed={seed}", out(args, f"rankiqa_seed{seed}")])
        show(f"RankIQA trained ranker, seed {seed}", result, KEYS)
        runs.append(result)
    res["trained"], res["seeds"] = runs[0], runs
    res["baseline"] = stronger(res, "rank_spearman")
    res["heldout_baseline"] = stronger(res, "heldout_distortion_rank_spearman")
    return res
