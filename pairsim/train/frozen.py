"""Encode the frozen part of a tower's training inputs once, instead of at every step.

A tower with ``train.tower.freeze: true`` (:mod:`pairsim.train.optim`) and no training augmentation returns the same
embedding for an input at every step: its weights do not change, it stays in eval mode (no dropout, fixed
BatchNorm statistics) and its preprocessing draws nothing at random. The same holds for a frozen *trunk*
(``train.tower.freeze: [backbone]`` on a tower whose :attr:`~pairsim.towers.base.Tower.trunk` is ``backbone``) under a
trainable projection: the trunk's features are fixed. Re-running them for every batch is pure waste, and
they are usually the expensive part: a locked image backbone in LiT (Zhai et al. 2022), a locked encoder of
long documents. With ``train.speed.cache_frozen`` (on by default) the trainer encodes every distinct training
input of such a side once before the first step (:func:`cache_frozen_sides`); that side's batches then
carry the stored vectors (:class:`FrozenEmbeddings`): final embeddings (:data:`EMBEDDINGS`), used as they
are, or trunk features (:data:`TRUNK`), which go through the tower's trainable rest
(:meth:`~pairsim.towers.base.Tower.forward_rest`). Validation and test still run the whole tower, so
nothing measured changes but the speed (the tests check both paths train alike). A frozen side that augments
its inputs changes at every step, so it runs as usual, unless ``train.speed.cache_views: N`` asks for N augmented
views of each distinct input to be encoded once; each step then draws one of the stored views at random (N fixed
views instead of a fresh distortion at every step: this one changes the training, not only its speed).

Example:
    >>> from pairsim.recipe import Recipe  # doctest: +SKIP
    >>> Recipe.load("recipes/flickr8k_caption_image.yaml", ["train.tower_b.freeze=true"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pairsim.data.split import Stream, rng
from pairsim.device import inference_precision
from pairsim.errors import ConfigError
from pairsim.towers import Batch, Features, Tower
from pairsim.train.optim import tower_training

if TYPE_CHECKING:
    from pairsim.data.pipeline import Batches
    from pairsim.model import PairModel
    from pairsim.recipe import TrainConfig

log = logging.getLogger("pairsim.train")

EMBEDDINGS = "embeddings"  # the batch key of stored final embeddings: (B, D)
TRUNK = "trunk_features"  # the batch key of stored trunk features: (B, F)


def cached_part(tower: Tower, freeze: bool | list[str], *, views: int = 0) -> str | None:
    """What of a tower's training computation is fixed and can be stored: :data:`EMBEDDINGS` (wholly frozen),
    :data:`TRUNK` (its trunk frozen, the rest trains) or None; for a tower that augments its inputs, only when
    ``views`` augmented views of each input are to be stored; ``freeze`` is the tower's ``train.tower.freeze``
    (or ``train.tower_b.freeze``)."""
    if tower.augments and not views:
        return None
    if freeze is True:
        return EMBEDDINGS
    if tower.trunk is not None and isinstance(freeze, list) and tower.trunk in freeze:
        return TRUNK
    return None


def check_cache_views(model: PairModel, train: TrainConfig) -> None:
    """Raise ConfigError when ``train.speed.cache_views`` would store nothing: no tower both augments its inputs
    and is frozen (wholly, or its trunk); called before any work.

    Args:
        model: The model to train.
        train: The run's training settings (``speed.cache_views``, each tower's ``freeze``).
    """
    views = train.speed.cache_views
    if views and not any(
        tower.augments and cached_part(tower, tower_training(model, tower, train).freeze, views=views)
        for tower in model.distinct_towers
    ):
        raise ConfigError(
            f"train.speed.cache_views: {views} views need a frozen tower (train.tower.freeze: true, or its trunk) "
            "with augment.enabled: true; no tower of this model is both"
        )


@torch.no_grad()
def encode_batches(
    tower: Tower,
    items: Sequence[Any],
    run: Callable[[Batch], torch.Tensor],
    *,
    batch_size: int,
    prepare: Callable[[Sequence[Any], int], Batch] | None = None,
) -> torch.Tensor:
    """``run`` over ``items`` batch by batch, in eval mode on the tower's device, in the inference precision
    (:func:`pairsim.device.inference_precision`); the result kept on the CPU.

    Args:
        tower: The tower (its mode is restored afterwards).
        items: The items ``(N,)``.
        run: A batch -> ``(b, D)``: the tower itself or :meth:`Tower.forward_trunk`.
        batch_size: Items per batch.
        prepare: ``(batch items, offset of the first) -> batch``; None: :meth:`Tower.preprocess`.

    Returns:
        ``(N, D)`` float32.
    """
    prepare = prepare or (lambda part, _start: tower.preprocess(part))
    was_training = tower.training
    tower.eval()
    try:
        chunks = []
        for start in range(0, len(items), batch_size):
            batch = prepare(items[start : start + batch_size], start)
            with inference_precision(None, tower.device):  # $PAIRSIM_PRECISION (default fp32), as encode runs
                chunks.append(run({k: v.to(tower.device) for k, v in batch.items()}).float().cpu())  # (b, D)
    finally:
        tower.train(was_training)
    return torch.cat(chunks)  # (N, D)


@torch.no_grad()
def augmented_view(
    tower: Tower, items: Sequence[Any], run: Callable[[Batch], torch.Tensor], *, view: int, seed: int, batch_size: int
) -> torch.Tensor:
    """``run`` over one augmented view of every item (the tower's training augmentation), in eval mode.

    Args:
        tower: A tower with an augmentation.
        items: The items ``(N,)``.
        run: A batch -> ``(b, D)``: the tower itself or :meth:`Tower.forward_trunk`.
        view: The view's number: item ``i`` of view ``v`` is drawn from the stream ``(seed, 0, Stream.VIEWS, v, i)``.
        seed: The run's seed.
        batch_size: Items per encoding batch.

    Returns:
        ``(N, D)``.
    """

    def prepare(part: Sequence[Any], start: int) -> Batch:
        gens = [rng(seed, 0, Stream.VIEWS, view, start + i) for i in range(len(part))]
        return tower.collate(tower.featurize(part, train=True, rng=gens))

    return encode_batches(tower, items, run, batch_size=batch_size, prepare=prepare)  # (N, D)


@torch.no_grad()
def encode_part(
    tower: Tower, items: Sequence[Any], part: str, *, batch_size: int, views: int = 0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(table, index (N,))``: the stored part of each distinct item, computed in eval mode on the tower's device
    and kept on the CPU (batches move it with the rest); ``table`` is ``(U, D)``, or ``(U, views, D)`` augmented
    views.

    Args:
        tower: The tower.
        items: The side's training items (repeats are encoded once: :meth:`Tower.distinct`).
        part: :data:`EMBEDDINGS` (the whole tower) or :data:`TRUNK` (:meth:`Tower.forward_trunk`).
        batch_size: Items per encoding batch.
        views: Augmented views of each item to store (:func:`augmented_view`); 0: the items as they are.
        seed: The run's seed (for the views).
    """
    run = tower if part == EMBEDDINGS else tower.forward_trunk
    first, rows = tower.distinct(items)  # (U,), (N,)
    distinct = [items[i] for i in first]
    if not views:
        return encode_batches(tower, distinct, run, batch_size=batch_size), rows  # (U, D), (N,)
    table = [augmented_view(tower, distinct, run, view=v, seed=seed, batch_size=batch_size) for v in range(views)]
    return torch.stack(table, 1), rows  # (U, V, D), (N,)


class FrozenEmbeddings:
    """Stands in for a frozen tower in the training batches of one side: row ``i`` of the side -> its embedding
    (of a view drawn at random, when several augmented views are stored).

    Args:
        table: ``(U, D)`` embeddings of the distinct inputs, or ``(U, V, D)``: ``V`` augmented views of each.
        index: ``(N,)`` row of ``table`` for each of the side's ``N`` items.
        modality: The tower's modality (the pipeline checks it against the data).
        key: :data:`EMBEDDINGS` (final embeddings) or :data:`TRUNK` (trunk features) in the batch.
    """

    def __init__(self, table: torch.Tensor, index: torch.Tensor, modality: str, key: str = EMBEDDINGS) -> None:
        self.table, self.index, self.modality, self.key = table, index, modality, key  # (U, [V,] D), (N,)
        self.augments = table.dim() == 3  # the pipeline then gives each item a generator to draw its view

    def featurize(
        self, items: Sequence[int], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        """Items are row numbers of the side (see :meth:`pairsim.data.pipeline.Batches.use_embeddings`)."""
        if not self.augments:
            return [{"row": int(self.index[i])} for i in items]
        views = [int(g.integers(self.table.shape[1])) for g in rng] if train and rng is not None else [0] * len(items)
        return [{"row": int(self.index[i]), "view": v} for i, v in zip(items, views, strict=True)]

    def collate(self, features: Sequence[Features]) -> Batch:
        rows = torch.tensor([f["row"] for f in features], dtype=torch.long)  # (B,)
        if not self.augments:
            return {self.key: self.table[rows]}  # (B, D)
        views = torch.tensor([f["view"] for f in features], dtype=torch.long)  # (B,)
        return {self.key: self.table[rows, views]}  # (B, D)


def cache_frozen_sides(batches: Batches, model: PairModel, train: TrainConfig, *, batch_size: int) -> list[str]:
    """Replace the fixed part of each side of ``batches`` (see :func:`cached_part`) by its stored vectors.

    Args:
        batches: The training batches (their towers are the model's).
        model: The model, on its training device.
        train: The run's training settings: what is frozen (``tower.freeze``, ``tower_b.freeze``), the augmented
            views stored for each input of a side whose tower augments (``speed.cache_views``), the ``seed``.
        batch_size: Inputs per encoding batch.

    Returns:
        The sides now served from stored vectors (``[]``, ``["b"]``, ...).
    """
    views, seed = train.speed.cache_views, train.seed
    done: list[str] = []
    for side, items in batches.side_inputs().items():
        tower = model.tower_for(side)
        part = cached_part(tower, tower_training(model, tower, train).freeze, views=views)
        if part is None:
            continue
        start = time.perf_counter()
        n = views if tower.augments else 0
        table, index = encode_part(tower, items, part, batch_size=batch_size, views=n, seed=seed)  # (U, [V,] D)
        batches.use_embeddings(side, FrozenEmbeddings(table, index, tower.modality, part))
        done.append(side)
        what = "is frozen" if part == EMBEDDINGS else f"has its trunk ({tower.trunk}) frozen"
        how = f"augments, so {n} augmented views of" if n else "does not augment, so"
        log.info(
            "side %s: the %s tower %s and %s the %s of its %d distinct training inputs were computed once (%.0f s) "
            "and training reuses them (train.speed.cache_frozen%s)",
            side, tower.config.name, what, how, "embeddings" if part == EMBEDDINGS else "trunk features",
            len(table), time.perf_counter() - start, ", train.speed.cache_views" if n else "",
        )  # fmt: skip
    return done
