"""Encode a wholly frozen tower's training inputs once, instead of at every step.

A tower with ``freeze: true`` (:mod:`pairsim.train.optim`) and no training augmentation returns the same
embedding for an input at every step: its weights do not change, it stays in eval mode (no dropout, fixed
BatchNorm statistics) and its preprocessing draws nothing at random. Re-running it for every batch is pure
waste, and it is usually the expensive tower: a locked image backbone in LiT (Zhai et al. 2022), a locked
body encoder for long documents. With ``train.cache_frozen`` (on by default) the trainer encodes every
distinct training input of such a side once before the first step (:func:`cache_frozen_sides`), and the
batches of that side then carry the stored embeddings (:class:`FrozenEmbeddings`); the training step uses
them as they are (:data:`EMBEDDINGS`). Validation and test still run the tower, so nothing measured changes
but the speed (the test checks the losses of both paths are equal).

Example:
    >>> from pairsim.recipe import Recipe  # doctest: +SKIP
    >>> Recipe.load("recipes/flickr8k_caption_image.yaml", ["model.tower_b.freeze=true"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from pairsim.towers import Batch, Features, Tower

if TYPE_CHECKING:
    from pairsim.data.pipeline import Batches
    from pairsim.model import PairModel

log = logging.getLogger("pairsim.train")

EMBEDDINGS = "embeddings"  # the batch key of stored embeddings: (B, D)


def cacheable(tower: Tower) -> bool:
    """Whether a tower's training output is fixed: wholly frozen, and its preprocessing never random."""
    return tower.config.freeze is True and not tower.augments


class FrozenEmbeddings:
    """Stands in for a frozen tower in the training batches of one side: row ``i`` of the side -> its embedding.

    Args:
        table: ``(U, D)`` embeddings of the distinct inputs.
        index: ``(N,)`` row of ``table`` for each of the side's ``N`` items.
        modality: The tower's modality (the pipeline checks it against the data).
    """

    augments = False

    def __init__(self, table: torch.Tensor, index: torch.Tensor, modality: str) -> None:
        self.table, self.index, self.modality = table, index, modality  # (U, D), (N,)

    def featurize(
        self, items: Sequence[int], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        """Items are row numbers of the side (see :meth:`pairsim.data.pipeline.Batches.use_embeddings`)."""
        return [{"row": int(self.index[i])} for i in items]

    def collate(self, features: Sequence[Features]) -> Batch:
        rows = torch.tensor([f["row"] for f in features], dtype=torch.long)  # (B,)
        return {EMBEDDINGS: self.table[rows]}  # (B, D)


def cache_frozen_sides(batches: Batches, model: PairModel, *, batch_size: int) -> list[str]:
    """Replace each frozen, non-augmenting side of ``batches`` by its inputs' embeddings, encoded once.

    Args:
        batches: The training batches (their towers are the model's).
        model: The model, on its training device; its towers' configs say what is frozen.
        batch_size: Inputs per encoding batch.

    Returns:
        The sides now served from stored embeddings (``[]``, ``["b"]``, ...).
    """
    done: list[str] = []
    for side, items in batches.side_inputs().items():
        tower = model.tower_a if side == "a" else model.side_b
        if not cacheable(tower):
            continue
        start = time.perf_counter()
        table, index = model.encode_unique(items, side=side, batch_size=batch_size)  # (U, D), (N,)
        batches.use_embeddings(side, FrozenEmbeddings(table, index, tower.modality))
        done.append(side)
        log.info(
            "side %s: the %s tower is frozen and does not augment, so its %d distinct training inputs were encoded "
            "once (%.0f s) and training reuses them (train.cache_frozen)",
            side, tower.config.name, len(table), time.perf_counter() - start,
        )  # fmt: skip
    return done
