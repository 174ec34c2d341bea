"""``benchmarks/quality_heads.py``: runs differ only in the head and seed, the tower keeps vector lengths, and the
table shows mean +- sample std per cell."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from quality_common import REPO, summarize
from quality_heads import DATASETS, HEADS, overrides, table

from pairsim.recipe import Recipe
from pairsim.towers import TOWERS


def _runs(values: list[float], metric: str) -> list[dict[str, object]]:
    return [{"test": {metric: v}} for v in values]


def test_runs_of_one_dataset_differ_only_in_head_seed_and_output_dir() -> None:
    for name in DATASETS:
        base = overrides(name, "cosine", 0, "out/a")
        for head, seed in (("exp", 1), ("euclidean", 2)):
            other = overrides(name, head, seed, "out/b")
            changed = {x.split("=", 1)[0] for x in set(base) ^ set(other)}
            assert changed == {"model.head", "train.seed", "output_dir"}


def test_every_recipe_loads_with_the_overrides_and_gets_the_same_tower_and_loss() -> None:
    towers = set()
    for name, data in DATASETS.items():
        for head in HEADS:
            r = Recipe.load(REPO / data.recipe, overrides(name, head, 1, "out/x"))
            assert (r.model.head.name, r.loss.name, r.train.seed) == (head, "cosent", 1)
            assert r.model.tower_b is None  # tied: FNC-1's body tower is dropped too
            towers.add(repr(r.model.tower))
    assert len(towers) == 1


def test_the_tower_does_not_l2_normalise_so_exp_and_euclidean_see_lengths() -> None:
    r = Recipe.load(REPO / DATASETS["stsb"].recipe, overrides("stsb", "exp", 0, "out/x"))
    tower = TOWERS.get(r.model.tower.name)(copy.deepcopy(r.model.tower))
    texts = ["a man is playing a guitar", "a woman slices an onion", "two dogs run", "the cat sleeps on a mat"]
    tower.adapt(texts)
    torch.manual_seed(0)
    with torch.no_grad():
        norms = tower(tower.preprocess(texts)).norm(dim=-1)  # (4,)
    assert (norms - 1).abs().max() > 1e-2
    assert norms.max() - norms.min() > 1e-3


def test_table_gives_mean_and_sample_std_x100_bolds_the_best_and_marks_missing_cells() -> None:
    summary = {
        "stsb": {
            "cosine": summarize(_runs([0.80, 0.82, 0.84], "spearman"), ["spearman"]),
            "exp": summarize(_runs([0.70, 0.70, 0.76], "spearman"), ["spearman"]),
        },
        "fnc1": {
            h: summarize(_runs([v, v], "roc_auc") + _runs([0.5], "accuracy"), ["roc_auc", "accuracy"])
            for h, v in zip(HEADS, (0.9, 0.95, 0.91), strict=True)
        },
    }
    lines = table(summary).splitlines()
    assert lines[0] == "| dataset, test metric (x100) | `cosine` | `exp` | `euclidean` |"
    assert lines[2] == "| STS-B test Spearman (3 seeds) | **82.0 +- 2.0** | 72.0 +- 3.5 | - |"
    assert lines[3] == "| FNC-1 competition test ROC-AUC (2 seeds) | 90.0 +- 0.0 | **95.0 +- 0.0** | 91.0 +- 0.0 |"
    assert lines[4].startswith("| FNC-1 competition test accuracy (1 seeds) | **50.0 +- 0.0** |")
    assert len(lines) == 5  # MRPC was not run: no rows
