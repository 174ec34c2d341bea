"""The ``ranked_pairs`` sampler: ordered pairs for a ranker (RankIQA), drawn within groups of comparable items.

Items carry a rank label (a distortion level: 0 = the original, lower ranks higher) and a group (one image under
one distortion); a row is two items of one group with different labels, its target 1 when side a ranks higher
(what the ``ranking`` loss consumes). Registered in :data:`~pairsim.data.samplers.SAMPLERS` on import (the
:mod:`pairsim.data` package imports it).

Example:
    >>> from pairsim.data.types import LabelledItems
    >>> from pairsim.data.samplers import SAMPLERS, Draw
    >>> data = LabelledItems(items=list("abcd"), labels=[0, 1, 0, 1], groups=["x", "x", "y", "y"])
    >>> fn = SAMPLERS.get("ranked_pairs")
    >>> rows = fn(data, np.random.default_rng(0), 0, Draw(options=fn.Config(per_epoch=4), batch_size=2))
    >>> [r.index.shape for r in rows]
    [(2, 2), (2, 2)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from pairsim.config import MAX_COUNT, bounded
from pairsim.data.samplers import ClassIndex, Draw, GroupedSamplerConfig, Rows, chunk, register
from pairsim.data.split import Stream
from pairsim.data.types import LabelledItems
from pairsim.errors import DataError


@dataclasses.dataclass(kw_only=True)
class RankedPairsConfig(GroupedSamplerConfig):
    name: str = "ranked_pairs"
    per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # labelled items: pairs drawn per epoch; 0: one per item
    # which label ranks highest: "lowest" (a rank, a distortion level: 0 = best) or "highest" (a quality score)
    best: Literal["lowest", "highest"] = "lowest"


def ranked_rows(
    labels: Sequence[int], groups: Sequence[str] | None, num_pairs: int, gen: np.random.Generator, *,
    best: str = "lowest",
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``num_pairs`` pairs ``(P, 2)`` of items of one group with different labels, and targets ``(P,)``: 1 when
    the first item ranks higher. Anchors are drawn uniformly among the items of groups with two labels or more;
    each pair's order is random, so about half the targets are 1.

    Args:
        labels: The rank label of each item.
        groups: The group of each item (pairs never cross groups); None: one group.
        num_pairs: Pairs to draw.
        gen: The generator.
        best: "lowest": the lower label ranks higher; "highest": the higher label does.

    Returns:
        ``(pairs, targets)``.

    Raises:
        DataError: No group holds two different labels.

    Example:
        >>> pairs, y = ranked_rows([0, 1, 2], None, 4, np.random.default_rng(0))
        >>> pairs.shape, bool(((np.array([0, 1, 2])[pairs[:, 0]] < np.array([0, 1, 2])[pairs[:, 1]]) == (y == 1)).all())
        ((4, 2), True)
    """
    y = np.asarray(labels, dtype=np.int64)  # (N,)
    g = np.unique(np.asarray(["" for _ in y] if groups is None else [str(x) for x in groups]), return_inverse=True)[1]
    index = ClassIndex(g.tolist())  # items grouped by group
    distinct = np.unique(np.stack([g, y], axis=1), axis=0)  # (K, 2) distinct (group, label)
    mixed = np.bincount(distinct[:, 0], minlength=int(g.max()) + 1) > 1  # (G,) groups with two labels or more
    candidates = np.flatnonzero(mixed[g])  # (M,) items whose group has two labels or more
    if not len(candidates):
        raise DataError("ranked pairs: no group holds two items with different labels (ranks)")
    anchors = candidates[gen.integers(0, len(candidates), size=num_pairs)]  # (P,)
    partners = index.positives(anchors, gen)  # (P,) another item of the same group
    same = y[partners] == y[anchors]
    while same.any():  # redraw the partners that share the anchor's label
        partners[same] = index.positives(anchors[same], gen)
        same = y[partners] == y[anchors]
    swap = gen.random(num_pairs) < 0.5
    pairs = np.stack([np.where(swap, partners, anchors), np.where(swap, anchors, partners)], axis=1)  # (P, 2)
    first, second = y[pairs[:, 0]], y[pairs[:, 1]]
    target = (first < second) if best == "lowest" else (first > second)
    return pairs, target.astype(np.float32)


@register("ranked_pairs", RankedPairsConfig, sides=("a", "b"), targets=("binary",), stream=Stream.PAIRS)
def ranked_pairs(split: Any, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Ranked pairs for a ranker (the ``ranking`` loss, target 1 = side a ranks higher). Labelled items: the
    label is a rank (a distortion level) and the group a set of comparable items (one image under one
    distortion); each pair is two items of one group with different labels (see :func:`ranked_rows`). A pair
    table: its rows as they are, its label saying whether side a ranks higher."""
    if isinstance(split, LabelledItems):
        opt = draw.options
        index, target = ranked_rows(split.labels, split.groups, opt.per_epoch or len(split), gen, best=opt.best)
        return chunk(index, target, draw, gen)
    rows = np.arange(len(split))
    return chunk(np.stack([rows, rows], axis=1), np.asarray(split.labels, dtype=np.float32), draw, gen)
