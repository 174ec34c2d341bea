"""The ``projection`` fitter: a tower's projection fitted in closed form (``train.fit.projection: wccn``).

With few classes to learn from (24 face subjects, a handful of signers), a projection trained by gradient steps
over frozen features memorises the training classes. The classic answer in verification (speaker and face
verification back-ends: Hatch et al. 2006, "Within-class covariance normalization for SVM-based speaker
recognition") is a linear map fitted in closed form: whiten the features by the training classes' pooled
*within-class* covariance (WCCN), so that the directions in which one person's images vary (pose, light)
count for little and the rest count fully; then cosine. :func:`wccn` computes that map; the fitter writes it
into the tower's projection before the first step (:func:`fit_projections`). With ``train.epochs: 0`` the
fitted map is the model; with more epochs training starts from it.

The classes come from the training split whatever its layout, through its ``class_items(side)``
(:mod:`pairsim.data.types`): labelled items (an ``image_folder``'s sub-folders, a named dataset's classes) as they
are; a ``pair_table``'s class columns (``data.class_a`` / ``class_b``) where given, otherwise the connected
components of its similar pairs (images joined by a chain of similar pairs are one class); caption-image data's
images (a caption's class is its image). A tied tower sees both sides' items, each tower of an untied model its
own side's.

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

import torch
from torch import nn

from pairsim.data.types import LabelledItems
from pairsim.errors import ConfigError, DataError
from pairsim.towers import Tower
from pairsim.train.fitters.base import FITTERS, Fitter
from pairsim.train.frozen import TRUNK, augmented_view, encode_part

if TYPE_CHECKING:
    from pairsim.model import PairModel

log = logging.getLogger("pairsim.train")


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
            "train.fit.projection: the training split needs at least two classes and a class with two items, "
            f"got {len(classes)} classes of at most {int(counts.max())} items"
        )
    if shrink == 0 and len(f) - len(classes) < f.shape[1]:
        raise DataError(
            f"train.fit.shrink: 0 needs more items than classes plus features ({len(f)} items of {len(classes)} "
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
    """The linear layer that is the whole of the tower after its trunk, or a ConfigError naming what is needed."""
    proj = tower.fittable_projection()
    if proj is None:
        raise ConfigError(
            f"train.fit.projection: the {tower.config.name} tower cannot be fitted in closed form; expected a tower "
            "whose trunk features go through one linear projection (timm, torchvision, transformer with out_dim)"
        )
    if not isinstance(proj, nn.Linear) or proj.out_features > proj.in_features:
        size = proj.in_features if isinstance(proj, nn.Linear) else tower.out_dim  # no projection: out = features
        raise ConfigError(
            f"train.fit.projection: the {tower.config.name} tower's out_dim must lie in 1..{size} (its feature "
            f"size) for a projection fitted in closed form, got {tower.config.out_dim}"
        )
    return proj


def _check_split(split: Any, method: str) -> None:
    if method != "wccn":
        raise ConfigError(f"train.fit.projection: unknown method {method!r}; expected one of: none, wccn")
    if not hasattr(split, "class_items"):
        raise ConfigError(
            f"train.fit.projection: {method} learns from classes; expected labelled items, a pair table or "
            f"caption-image data, got {type(split).__name__}"
        )


def check_classes(labels: torch.Tensor, *, views: int, shrink: float, features: int, side: str = "a") -> None:
    """Raise a DataError now, before any encoding, unless :func:`wccn` can fit these classes.

    Args:
        labels: ``(N,)`` class of each training item the tower sees.
        views: Augmented views added per item (each counts as an item of its class).
        shrink: ``train.fit.shrink``.
        features: The tower's trunk feature size ``F``.
        side: The tower's side, named in the message.
    """
    classes, counts = torch.unique(labels, return_counts=True) if len(labels) else (labels, labels)
    most = int(counts.max()) * (1 + views) if len(counts) else 0
    if len(classes) < 2 or most < 2:
        raise DataError(
            f"train.fit.projection: the training items of side {side} need at least two classes and a class with "
            f"two items (counting train.fit.views), got {len(classes)} classes of at most {most} items; a pair "
            "table's classes are its class columns (data.class_a / class_b) or the groups its similar pairs join"
        )
    items = len(labels) * (1 + views)
    if shrink == 0 and items - len(classes) < features:
        raise DataError(
            f"train.fit.shrink: 0 needs more items than classes plus features ({items} items of {len(classes)} "
            f"classes for {features} features leave the within-class scatter singular); expected a shrink above 0"
        )


def _side_items(model: PairModel, split: Any) -> list[tuple[str, Tower, LabelledItems]]:
    """``(side, tower, its training items with classes)`` for each tower: the one seam between the data and the
    fit (:meth:`~pairsim.data.types.PairTable.class_items`): a tied tower sees both sides' items, an untied one
    its own side's."""
    if model.tower_b is None:
        return [("a", model.tower_a, split.class_items(None))]
    return [("a", model.tower_a, split.class_items("a")), ("b", model.tower_b, split.class_items("b"))]


@torch.no_grad()
def fit_projections(
    model: PairModel, split: Any, *, method: str, shrink: float, views: int = 0, seed: int = 0, batch_size: int
) -> list[str]:
    """Set each tower's projection to the closed-form map (``method``) fitted on the training split.

    Args:
        model: The model as built (pretrained weights loaded), on its training device.
        split: The training split: labelled items, a pair table or caption-image data; each tower's items and
            their classes come from its ``class_items`` (classes are what the map learns).
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
    _check_split(split, method)
    done = []
    for side, tower, data in _side_items(model, split):
        labels = torch.as_tensor(data.labels)  # (N,)
        proj = _projection(tower)
        if views and not tower.augments:
            raise ConfigError(
                f"train.fit.views: {views} augmented views need the {tower.config.name} tower's augment.enabled: true"
            )
        start = time.perf_counter()
        table, index = encode_part(tower, data.items, TRUNK, batch_size=batch_size)  # (U, F), (N,)
        feats = [table[index]]  # [(N, F)]
        feats += [augmented_view(tower, data.items, tower.forward_trunk, view=v, seed=seed, batch_size=batch_size)
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


@FITTERS.register("projection")
class ProjectionFitter(Fitter):
    """Each tower's projection set to the closed-form map of ``train.fit.projection`` (``wccn``), with
    ``train.fit.shrink`` and ``train.fit.views``; fitted once at the start, then trained (or not) from there."""

    @classmethod
    def applies(cls, model: PairModel, recipe: Any) -> bool:
        return recipe.train.fit.projection != "none"

    def check(self, model: PairModel, train: Any) -> None:
        fit = self.recipe.train.fit
        _check_split(train, fit.projection)
        for side, tower, data in _side_items(model, train):
            proj = _projection(tower)
            if fit.views and not tower.augments:
                raise ConfigError(f"train.fit.views: {fit.views} augmented views need the {tower.config.name} "
                                  "tower's augment.enabled: true")  # fmt: skip
            check_classes(torch.as_tensor(data.labels), views=fit.views, shrink=fit.shrink,
                          features=proj.in_features, side=side)  # fmt: skip

    def fit(self, model: PairModel, train: Any) -> None:
        t = self.recipe.train
        fit_projections(model, train, method=t.fit.projection, shrink=t.fit.shrink, views=t.fit.views, seed=t.seed,
                        batch_size=self.recipe.eval.batch_size)  # fmt: skip
