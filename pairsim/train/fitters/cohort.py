"""The ``cohort`` fitter: the cosine head's S-norm cohort (``head: {name: cosine, cohort: K}``).

S-norm measures a pair's cosine against each side's cosines to a cohort of ``K`` stored training embeddings
(:class:`~pairsim.heads.cosine.CosineHead`). The cohort must be the embeddings of the weights being scored, so
this fitter stores them again before every validation and snapshot (:func:`fill_cohort`); that too few
training items is an error is known before training starts (:func:`cohort_items`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pairsim.data.pipeline import side_inputs
from pairsim.data.split import Stream, rng
from pairsim.errors import DataError
from pairsim.heads.cosine import CosineHead
from pairsim.train.fitters.base import FITTERS, Fitter
from pairsim.train.frozen import EMBEDDINGS, encode_part

if TYPE_CHECKING:
    from pairsim.model import PairModel


@FITTERS.register("cohort")
class CohortFitter(Fitter):
    """Stores the training embeddings of the current weights as the head's cohort before every validation."""

    @classmethod
    def applies(cls, model: PairModel, recipe: Any) -> bool:
        return isinstance(model.head, CosineHead) and model.head.config.cohort > 0

    def check(self, model: PairModel, train: Any) -> None:
        cohort_items(model, train)

    def refresh(self, model: PairModel, train: Any) -> None:
        fill_cohort(model, train, seed=self.recipe.train.seed, batch_size=self.recipe.eval.batch_size)


@torch.no_grad()
def fill_cohort(model: PairModel, split: Any, *, seed: int, batch_size: int) -> int:
    """Store the current embeddings of ``head.cohort`` training items (drawn at random) as the head's S-norm cohort
    (:class:`~pairsim.heads.cosine.CosineHead`); called before every validation, so a saved model carries the
    cohort of its own weights.

    Args:
        model: A tied model whose head has a ``cohort`` size.
        split: The training split (its items, or both sides of its pairs, are the pool; repeats count once).
        seed: Seed of the draw (only the ``K`` drawn items are encoded).
        batch_size: Items per encoding batch.

    Returns:
        The cohort's size.
    """
    first = cohort_items(model, split)  # (U,) the first row of each distinct pool item
    pool = _pool(split)
    chosen = rng(seed, 0, Stream.FIT_DRAW).permutation(len(first))[: model.head.config.cohort]  # (K,)
    table, _ = encode_part(model.tower_a, [pool[first[i]] for i in chosen], EMBEDDINGS, batch_size=batch_size)  # (K, D)
    model.head.set_cohort(table.to(model.device))
    return len(chosen)


def _pool(split: Any) -> list[Any]:
    side_a, side_b = side_inputs(split)
    return [*side_a, *(side_b or [])]


def cohort_items(model: PairModel, split: Any) -> np.ndarray:
    """The first index of each distinct item of the cohort pool (the training split's items, or both sides of its
    pairs); a DataError when there are fewer than ``head.cohort`` (checked before training starts).

    Args:
        model: A tied model whose head has a ``cohort`` size.
        split: The training split.

    Returns:
        ``(U,)`` indices into the pool.
    """
    first, _ = model.tower_a.distinct(_pool(split))  # (U,), (N,)
    size = model.head.config.cohort
    if size > len(first):
        raise DataError(
            f"head.cohort: {size} is more than the {len(first)} distinct training items; expected at most {len(first)}"
        )
    return np.asarray(first)
