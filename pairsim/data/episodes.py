"""N-way k-shot episodes: a support set with one class per "way", and queries to match against it.

The one-shot test of Lake et al. (2015) and Koch et al. (2015) is a 20-way 1-shot episode drawn within one
Omniglot alphabet; :class:`EpisodeSampler` draws such episodes at random (seeded), and
:func:`pairsim.data.sources.omniglot.one_shot_runs` reads the 20 official ones.

Example:
    >>> from pairsim.data.types import LabelledItems
    >>> data = LabelledItems(items=list(range(12)), labels=[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    >>> episode = EpisodeSampler(data, n_way=3, k_shot=1, n_query=1, within_group=False, seed=0)[0]
    >>> len(episode.support), len(episode.query), episode.n_way
    (3, 3, 3)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from pairsim.data.split import Stream, rng
from pairsim.data.types import LabelledItems
from pairsim.errors import DataError
from pairsim.images import load_image


@dataclasses.dataclass
class Episode:
    """One N-way k-shot task.

    Args:
        support: ``n_way * k_shot`` items, grouped by way: way ``w`` holds ``support[w*k : (w+1)*k]``.
        support_labels: Way index (0..n_way-1) of each support item.
        query: Items to classify.
        targets: For each query, the way index of its one correct class. With ``k_shot == 1`` this is also
            the index of the one correct support item.
        classes: Class id (in the source data) of each way, when known.
        group: The group (alphabet) the episode was drawn from, when drawn within one.
    """

    support: list[Any]
    support_labels: list[int]
    query: list[Any]
    targets: list[int]
    classes: list[int] | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        if len(self.support) != len(self.support_labels):
            raise DataError(f"Episode: {len(self.support)} support items but {len(self.support_labels)} support labels")
        if len(self.query) != len(self.targets):
            raise DataError(f"Episode: {len(self.query)} queries but {len(self.targets)} targets")
        ways = set(self.support_labels)
        bad = [t for t in self.targets if t not in ways]
        if bad:
            raise DataError(f"Episode: query target {bad[0]} is not a support label (ways {sorted(ways)})")

    @property
    def n_way(self) -> int:
        """Number of candidate classes."""
        return len(set(self.support_labels))

    @property
    def k_shot(self) -> int:
        """Support items per class."""
        return len(self.support) // max(1, self.n_way)


@dataclasses.dataclass
class FixedEpisodes:
    """A fixed list of episodes handed to the evaluator as they are (Omniglot's 20 official one-shot runs).

    Evaluated by the ``episodes`` metric group; unlike class-labelled items, nothing is drawn at random.

    Args:
        episodes: The episodes, in order.
    """

    episodes: list[Episode]


class EpisodePools:
    """Classes with enough items for an episode, pooled by group (or all in one pool), and drawing from them.

    Args:
        data: Items with class labels (and groups, for ``within_group``).
        n_way: Classes per episode.
        k_shot: Support items per class.
        n_query: Query items per class.
        within_group: Draw all classes of an episode from one group (one Omniglot alphabet).

    Raises:
        DataError: Bad sizes, or no class (or group) has enough items for one episode.
    """

    def __init__(self, data: LabelledItems, n_way: int, k_shot: int, n_query: int, within_group: bool) -> None:
        if n_way < 2 or k_shot < 1 or n_query < 1:
            raise DataError(f"episodes: need n_way >= 2, k_shot >= 1, n_query >= 1, got {n_way}, {k_shot}, {n_query}")
        if within_group and data.groups is None:
            raise DataError("episodes: within_group needs items with groups (e.g. Omniglot alphabets)")
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        need = k_shot + n_query
        self.by_class = {c: ix for c, ix in data.by_class().items() if len(ix) >= need}
        pools: dict[str | None, list[int]] = {}
        for c, ix in self.by_class.items():
            key = data.groups[ix[0]] if within_group and data.groups is not None else None
            pools.setdefault(key, []).append(c)
        self.pools = sorted(((g, cs) for g, cs in pools.items() if len(cs) >= n_way), key=lambda p: str(p[0]))
        if within_group and pools and all(len(cs) == 1 for cs in pools.values()) and len(pools) > 1:
            raise DataError(
                "episodes: every group holds a single class (groups here are the classes, e.g. face subjects); "
                "use within_group: false"
            )
        if not self.pools:
            where = "one group" if within_group else "the data"
            raise DataError(
                f"episodes: {where} needs {n_way} classes with {need} items each for a {n_way}-way "
                f"{k_shot}-shot episode with {n_query} queries per class; largest has "
                f"{max((len(cs) for cs in pools.values()), default=0)} such classes"
            )

    def draw(self, gen: np.random.Generator) -> tuple[str | None, list[int], list[int], list[tuple[int, int]]]:
        """One episode: ``(group, support indices grouped by way, query indices in random order, targets)``
        where ``targets`` holds ``(way, is_query)`` for each support then each query index."""
        group, classes = self.pools[int(gen.integers(len(self.pools)))]
        ways = [classes[i] for i in gen.choice(len(classes), size=self.n_way, replace=False)]
        support: list[int] = []
        query: list[tuple[int, int]] = []
        for w, c in enumerate(ways):
            members = self.by_class[c]
            picks = [members[i] for i in gen.choice(len(members), size=self.k_shot + self.n_query, replace=False)]
            support += picks[: self.k_shot]
            query += [(i, w) for i in picks[self.k_shot :]]
        query = [query[i] for i in gen.permutation(len(query))]  # position gives nothing away
        targets = [(w, 0) for w in range(self.n_way) for _ in range(self.k_shot)] + [(w, 1) for _, w in query]
        return group, support, [i for i, _ in query], targets


class Rotated(Sequence[Any]):
    """Items followed by copies rotated by each angle: item ``j`` of copy ``r`` is ``r * n + j``."""

    def __init__(self, items: Sequence[Any], angles: Sequence[int]) -> None:
        self.items, self.angles = items, [0, *angles]

    def __len__(self) -> int:
        return len(self.items) * len(self.angles)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        copy, j = divmod(int(i), len(self.items))
        angle = self.angles[copy]
        return self.items[j] if angle == 0 else load_image(self.items[j]).rotate(angle)


def rotated(data: LabelledItems, angles: Sequence[int]) -> LabelledItems:
    """``data`` plus each class rotated by each angle (90, 180, 270) as a new class in the same group.

    Example:
        >>> data = rotated(LabelledItems(items=[np.eye(2)] * 2, labels=[0, 1]), [180])
        >>> len(data), data.labels
        (4, [0, 1, 2, 3])
    """
    if not angles:
        return data
    offset = max(data.labels) + 1
    return LabelledItems(
        items=Rotated(data.items, angles),  # type: ignore[arg-type]
        labels=[y + r * offset for r in range(len(angles) + 1) for y in data.labels],
        groups=None if data.groups is None else list(data.groups) * (len(angles) + 1),
        modality=data.modality,
    )


class EpisodeSampler(Dataset[Episode]):
    """Random N-way k-shot episodes of items, reproducible from (seed, epoch, index), for evaluation.

    Args:
        data: Items with class labels (and groups, for ``within_group``).
        n_way: Classes per episode.
        k_shot: Support items per class.
        n_query: Query items per class.
        within_group: Draw all classes of an episode from one group (one Omniglot alphabet), as in the
            one-shot benchmark; needs ``data.groups``.
        num_episodes: Episodes per epoch (the dataset's length).
        seed: Sampling seed.
    """

    def __init__(
        self, data: LabelledItems, *, n_way: int = 20, k_shot: int = 1, n_query: int = 1, within_group: bool = True,
        num_episodes: int = 1000, seed: int = 0,
    ) -> None:  # fmt: skip
        self.data, self.num_episodes, self.seed, self.epoch = data, num_episodes, seed, 0
        self.pools = EpisodePools(data, n_way, k_shot, n_query, within_group)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's episodes (the same epoch gives the same episodes)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_episodes

    def __getitem__(self, index: int) -> Episode:
        group, support, query, targets = self.pools.draw(rng(self.seed, self.epoch, Stream.EPISODES, index))
        k = self.pools.k_shot
        items = self.data.items
        return Episode(
            support=[items[i] for i in support],
            support_labels=[w for w, _ in targets[: len(support)]],
            query=[items[i] for i in query],
            targets=[w for w, _ in targets[len(support) :]],
            classes=[int(self.data.labels[support[w * k]]) for w in range(self.pools.n_way)],
            group=group,
        )

    def episodes(self, count: int | None = None) -> list[Episode]:
        """The first ``count`` (default: all) episodes of the current epoch."""
        return [self[i] for i in range(self.num_episodes if count is None else count)]
