"""Closed-form fits from the training split: a tower's projection (``train.fit_projection``) and the head's
score-normalisation cohort (``head.cohort``).

With few classes to learn from (24 face subjects, a handful of signers), a projection trained by gradient steps
over frozen features memorises the training classes. The classic answer in verification (speaker and face
verification back-ends: Hatch et al. 2006, "Within-class covariance normalization for SVM-based speaker
recognition") is a linear map fitted in closed form: whiten the features by the training classes' pooled
*within-class* covariance (WCCN), so that the directions in which one person's images vary (pose, light)
count for little and the rest count fully; then cosine. :func:`wccn` computes that map; the trainer writes it
into the tower's projection before the first step (:func:`fit_projections`). With ``train.epochs: 0`` the
fitted map is the model; with more epochs training starts from it.

Example:
    >>> feats, labels = torch.randn(40, 6), torch.arange(40) % 4
    >>> weight, bias = wccn(feats, labels, shrink=0.5, out_dim=6)
    >>> weight.shape, bias.shape
    (torch.Size([6, 6]), torch.Size([6]))
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from pairsim.data.pipeline import side_inputs
from pairsim.data.split import rng
from pairsim.data.types import LabelledItems
from pairsim.errors import ConfigError, DataError
from pairsim.towers import Tower
from pairsim.train.frozen import EMBEDDINGS, TRUNK, augmented_view, encode_part

if TYPE_CHECKING:
    from pairsim.model import PairModel

log = logging.getLogger("pairsim.train")

COHORT_STREAM = 7  # the random stream of the cohort draw (pairsim.data.split.rng(seed, 7))


def wccn(
    features: torch.Tensor, labels: torch.Tensor, *, shrink: float, out_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The WCCN map of labelled features, as a linear layer's ``(weight, bias)``: ``x -> (x - mean) @ A``.

    ``A = S^(-1/2) @ R``: ``S`` is the within-class scatter (each item minus its class mean, averaged over the
    ``N`` items), shrunk towards its mean variance, ``(1 - shrink) * S + shrink * mean(diag S) * I``, so that
    directions the few training classes never vary in are not blown up. With ``out_dim`` equal to the feature
    size that is the map (``R = I``). With fewer, ``R`` keeps the ``out_dim`` axes of the whitened space that carry
    the most between-class variance (the class means' scatter): WCCN followed by LDA. Only the first
    ``classes - 1`` of those axes are set by the data; any further ones are arbitrary directions of no
    between-class variance.

    Args:
        features: ``(N, F)`` training features.
        labels: ``(N,)`` class of each (at least two classes, and a class with two items).
        shrink: Share of the scatter replaced by its mean variance, 0..1 (1: no whitening, only centring).
        out_dim: Output size, 1..F.

    Returns:
        ``(weight (out_dim, F), bias (out_dim,))`` such that ``features @ weight.T + bias`` is the mapped features.
    """
    f = features.double()  # (N, F)
    classes, inverse = torch.unique(labels, return_inverse=True)  # (C,), (N,)
    counts = torch.bincount(inverse).double()  # (C,)
    if len(classes) < 2 or int(counts.max()) < 2:
        raise DataError(
            "train.fit_projection: the training split needs at least two classes and a class with two items, "
            f"got {len(classes)} classes of at most {int(counts.max())} items"
        )
    if shrink == 0 and len(f) - len(classes) < f.shape[1]:
        raise DataError(
            f"train.fit_shrink: 0 needs more items than classes plus features ({len(f)} items of {len(classes)} "
            f"classes for {f.shape[1]} features leave the within-class scatter singular); expected a shrink above 0"
        )
    means = torch.zeros(len(classes), f.shape[1], dtype=f.dtype).index_add_(0, inverse, f) / counts[:, None]  # (C, F)
    within = f - means[inverse]  # (N, F)
    scatter = within.T @ within / len(f)  # (F, F)
    eye = torch.eye(len(scatter), dtype=f.dtype)
    scatter = (1 - shrink) * scatter + shrink * scatter.diagonal().mean().clamp_min(1e-12) * eye
    values, vectors = torch.linalg.eigh(scatter)  # (F,), (F, F)
    whiten = vectors @ torch.diag(values.clamp_min(1e-12).rsqrt()) @ vectors.T  # (F, F)
    mean = f.mean(0)  # (F,)
    a = whiten  # (F, F): plain WCCN, symmetric, the same on every machine
    if out_dim < len(a):
        centred_means = (means - mean) @ whiten  # (C, F): class means in the whitened space
        between = centred_means.T @ (counts[:, None] * centred_means) / len(f)  # (F, F)
        _, axes = torch.linalg.eigh(between)  # (F, F), ascending
        a = whiten @ axes.flip(1)[:, :out_dim]  # (F, out_dim): most between-class variance first
    return a.T.float().contiguous(), (-mean @ a).float()


def _projection(tower: Tower) -> nn.Linear:
    """The linear layer that is the whole of the tower's rest, or a ConfigError naming what is needed."""
    if not tower.rest_is_projection:
        raise ConfigError(
            f"train.fit_projection: the {tower.config.name} tower cannot be fitted in closed form; expected a tower "
            "whose trunk features go through one linear projection (timm, torchvision)"
        )
    proj, size = tower.proj, tower.feature_dim
    if not isinstance(proj, nn.Linear) or proj.out_features > size:
        raise ConfigError(
            f"train.fit_projection: the {tower.config.name} tower's out_dim must lie in 1..{size} (its feature "
            f"size) for a projection fitted in closed form, got {tower.config.out_dim}"
        )
    return proj


@torch.no_grad()
def fit_projections(
    model: PairModel, split: Any, *, method: str, shrink: float, views: int = 0, seed: int = 0, batch_size: int
) -> list[str]:
    """Set each tower's projection to the closed-form map (``method``) fitted on the training split.

    Args:
        model: The model as built (pretrained weights loaded), on its training device.
        split: The training split: :class:`~pairsim.data.types.LabelledItems` (classes are what the map learns).
        method: ``"wccn"`` (:func:`wccn`).
        shrink: See :func:`wccn`.
        views: Augmented views of each item added to the fit (the tower's ``augment``), with the item's class: the
            within-class scatter then holds the variation the augmentation makes (small shifts, turns, mirror
            images), which the map learns to discount.
        seed: Seed of the augmentation draws.
        batch_size: Items per encoding batch.

    Returns:
        The fitted sides (``["a"]`` for a tied model, ``["a", "b"]`` for two towers).
    """
    if method != "wccn":
        raise ConfigError(f"train.fit_projection: unknown method {method!r}; expected one of: none, wccn")
    if not isinstance(split, LabelledItems):
        raise ConfigError(
            f"train.fit_projection: {method} learns from classes; expected labelled items (data such as "
            f"att_faces, omniglot), got {type(split).__name__}"
        )
    labels = torch.as_tensor(split.labels)  # (N,)
    done = []
    for side, tower in (("a", model.tower_a), ("b", model.tower_b)):
        if tower is None:
            continue
        proj = _projection(tower)
        if views and not tower.augments:
            raise ConfigError(
                f"train.fit_views: {views} augmented views need the {tower.config.name} tower's augment.enabled: true"
            )
        start = time.perf_counter()
        table, index = encode_part(tower, split.items, TRUNK, batch_size=batch_size)  # (U, F), (N,)
        feats = [table[index]]  # [(N, F)]
        feats += [augmented_view(tower, split.items, tower.forward_trunk, view=v, seed=seed, batch_size=batch_size)
                  for v in range(views)]  # fmt: skip
        weight, bias = wccn(torch.cat(feats), labels.repeat(1 + views), shrink=shrink, out_dim=proj.out_features)
        proj.weight.copy_(weight)
        proj.bias.copy_(bias)
        done.append(side)
        log.info(
            "side %s: projection fitted in closed form (%s, shrink %.2f) on the trunk features of %d training items "
            "of %d classes and %d augmented views of each (%.0f s)", side, method, shrink, len(index),
            len(labels.unique()), views,
            time.perf_counter() - start,
        )  # fmt: skip
    return done


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
    chosen = rng(seed, COHORT_STREAM).permutation(len(first))[: model.head.cohort_size]  # (K,)
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
    size = model.head.cohort_size
    if size > len(first):
        raise DataError(
            f"head.cohort: {size} is more than the {len(first)} distinct training items; expected at most {len(first)}"
        )
    return np.asarray(first)
