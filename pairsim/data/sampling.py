"""Pairs and triplets drawn from class-labelled items, afresh every epoch, reproducible from (seed, epoch).

:class:`PairDataset` and :class:`TripletDataset` are map-style datasets: index ``i`` of epoch ``e`` is always
the same pair, whatever the worker count or the sampler (e.g. a ``DistributedSampler``), so a run resumes
exactly by calling ``set_epoch(e)`` and skipping the batches already seen.

Example:
    >>> from pairsim.data.types import LabelledItems
    >>> data = LabelledItems(items=list("abcdef"), labels=[0, 0, 1, 1, 2, 2], modality="text")
    >>> pairs = PairDataset(data, num_pairs=4, seed=0)
    >>> [pairs[i][2] for i in range(4)].count(1.0)
    2
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset

from pairsim.data.split import rng
from pairsim.data.types import LabelledItems, PairTable
from pairsim.errors import DataError


class ClassIndex:
    """Items grouped by class for vectorised sampling.

    Args:
        labels: Class id of each item.

    Attributes:
        order: Item indices sorted by class (stable).
        start: For each item, the position in ``order`` where its class begins.
        count: For each item, the size of its class.
        rank: For each item, its position within its class.
    """

    def __init__(self, labels: list[int]) -> None:
        y = np.asarray(labels, dtype=np.int64)
        self.order = np.argsort(y, kind="stable")  # (N,)
        sorted_y = y[self.order]
        classes, first, counts = np.unique(sorted_y, return_index=True, return_counts=True)
        cls_of = np.searchsorted(classes, y)  # (N,) class position of each item
        self.start = first[cls_of]  # (N,)
        self.count = counts[cls_of]  # (N,)
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(len(y)) - first[np.searchsorted(classes, sorted_y)]  # (N,)
        self.n = len(y)

    def positives(self, anchors: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        """For each anchor, a different item of its class (classes must have >= 2 items)."""
        r = gen.integers(0, self.count[anchors] - 1)  # (M,) in [0, count - 2]
        r = r + (r >= self.rank[anchors])  # skip the anchor itself
        return self.order[self.start[anchors] + r]

    def negatives(self, anchors: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        """For each anchor, a uniformly drawn item of another class."""
        r = gen.integers(0, self.n - self.count[anchors])  # (M,) position among the other classes' items
        r = r + np.where(r >= self.start[anchors], self.count[anchors], 0)  # skip the anchor's class block
        return self.order[r]


def _epoch_pairs(
    index: ClassIndex, num_pairs: int, positive_fraction: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_pos = round(num_pairs * positive_fraction)
    anchors = gen.integers(0, index.n, size=num_pairs)  # (P,)
    partners = np.empty_like(anchors)
    partners[:n_pos] = index.positives(anchors[:n_pos], gen)
    partners[n_pos:] = index.negatives(anchors[n_pos:], gen)
    labels = np.zeros(num_pairs, dtype=np.float32)
    labels[:n_pos] = 1.0
    swap = gen.random(num_pairs) < 0.5  # random order within a pair, so side a is no special item
    a = np.where(swap, partners, anchors)
    b = np.where(swap, anchors, partners)
    perm = gen.permutation(num_pairs)
    return a[perm], b[perm], labels[perm]


class PairDataset(Dataset[tuple[Any, Any, float]]):
    """Balanced positive/negative pairs of class-labelled items; item ``i`` is ``(item_a, item_b, label)``.

    Args:
        data: Items with class labels; every class needs at least 2 items, and there must be 2 classes.
        num_pairs: Pairs per epoch (default: as many as items).
        positive_fraction: Share of positive (same-class, label 1) pairs; the rest are negatives.
        seed: Sampling seed; pairs of epoch ``e`` come from the stream ``(seed, e)``.
        fixed: Always use epoch 0's pairs (for validation/test sets).
        where: Name of the data in error messages.

    Raises:
        DataError: Empty data, a single class, or a class with fewer than 2 items.
    """

    def __init__(
        self,
        data: LabelledItems,
        *,
        num_pairs: int | None = None,
        positive_fraction: float = 0.5,
        seed: int = 0,
        fixed: bool = False,
        where: str = "pairs",
    ) -> None:
        data.check_pairable(where)
        if not 0.0 <= positive_fraction <= 1.0:
            raise DataError(f"{where}: positive_fraction must lie in [0, 1], got {positive_fraction}")
        self.data = data
        self.num_pairs = len(data) if num_pairs is None else num_pairs
        self.positive_fraction = positive_fraction
        self.seed = seed
        self.fixed = fixed
        self.epoch = 0
        self._index = ClassIndex(data.labels)
        self._cache: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Use the pairs of ``epoch`` (ignored when ``fixed``)."""
        self.epoch = epoch

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This epoch's pairs as index arrays ``(a, b, labels)``, each ``(num_pairs,)``."""
        epoch = 0 if self.fixed else self.epoch
        if self._cache is None or self._cache[0] != epoch:
            gen = rng(self.seed, epoch, 1)
            self._cache = (epoch, _epoch_pairs(self._index, self.num_pairs, self.positive_fraction, gen))
        return self._cache[1]

    def indices(self, i: int) -> tuple[int, int, float]:
        """Item indices and label of pair ``i``."""
        a, b, y = self.arrays()
        return int(a[i]), int(b[i]), float(y[i])

    def __len__(self) -> int:
        return self.num_pairs

    def __getitem__(self, i: int) -> tuple[Any, Any, float]:
        a, b, y = self.indices(i)
        return self.data.items[a], self.data.items[b], y


class TripletDataset(Dataset[tuple[Any, Any, Any]]):
    """Triplets ``(anchor, positive, negative)`` of class-labelled items, drawn afresh every epoch.

    Args:
        data: Items with class labels (every class >= 2 items, at least 2 classes).
        num_triplets: Triplets per epoch (default: as many as items).
        seed: Sampling seed; triplets of epoch ``e`` come from the stream ``(seed, e)``.
        fixed: Always use epoch 0's triplets.
        where: Name of the data in error messages.
    """

    def __init__(
        self,
        data: LabelledItems,
        *,
        num_triplets: int | None = None,
        seed: int = 0,
        fixed: bool = False,
        where: str = "triplets",
    ) -> None:
        data.check_pairable(where)
        self.data = data
        self.num_triplets = len(data) if num_triplets is None else num_triplets
        self.seed = seed
        self.fixed = fixed
        self.epoch = 0
        self._index = ClassIndex(data.labels)
        self._cache: tuple[int, np.ndarray] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Use the triplets of ``epoch`` (ignored when ``fixed``)."""
        self.epoch = epoch

    def arrays(self) -> np.ndarray:
        """This epoch's triplets as item indices, ``(num_triplets, 3)``: anchor, positive, negative."""
        epoch = 0 if self.fixed else self.epoch
        if self._cache is None or self._cache[0] != epoch:
            gen = rng(self.seed, epoch, 2)
            anchors = gen.integers(0, self._index.n, size=self.num_triplets)  # (T,)
            positives = self._index.positives(anchors, gen)  # (T,)
            negatives = self._index.negatives(anchors, gen)  # (T,)
            self._cache = (epoch, np.stack([anchors, positives, negatives], axis=1))  # (T, 3)
        return self._cache[1]

    def indices(self, i: int) -> tuple[int, int, int]:
        """Item indices of triplet ``i``."""
        a, p, n = self.arrays()[i]
        return int(a), int(p), int(n)

    def __len__(self) -> int:
        return self.num_triplets

    def __getitem__(self, i: int) -> tuple[Any, Any, Any]:
        return tuple(self.data.items[j] for j in self.indices(i))  # type: ignore[return-value]


def fixed_pairs(
    data: LabelledItems,
    *,
    num_pairs: int | None = None,
    positive_fraction: float = 0.5,
    seed: int = 0,
    where: str = "pairs",
) -> PairTable:
    """A fixed, balanced verification set (e.g. face verification on held-out subjects) as a :class:`PairTable`.

    Args:
        data: Items with class labels.
        num_pairs: Number of pairs (default: as many as items).
        positive_fraction: Share of same-class pairs.
        seed: Sampling seed.
        where: Name of the data in error messages.

    Returns:
        The pairs, label 1 = same class.
    """
    pairs = PairDataset(
        data, num_pairs=num_pairs, positive_fraction=positive_fraction, seed=seed, fixed=True, where=where
    )
    a, b, y = pairs.arrays()
    return PairTable(
        a=[data.items[i] for i in a],
        b=[data.items[i] for i in b],
        labels=[float(v) for v in y],
        modality=data.modality,
    )
