"""Samplers, registered by short name: which items of a split form each row of each batch.

A sampler is a plain function ``fn(split, rng, epoch, draw) -> list[Rows]``: all of one epoch's *global*
batches (over every process), each a :class:`Rows` of item indices, one column per slot of the loss's row
(``("a", "b")`` pairs, ``("a", "b", "b")`` triplets, ``("a",)`` single items) plus the row targets. Index
``j`` of a slot points into the items of that slot's side (see :func:`pairsim.data.pipeline.side_items`).
The same ``(seed, epoch)`` gives the same batches, so a run resumes exactly by skipping batches. Options
live in the sampler's ``Config`` (the recipe's ``sampler:`` section; every loss names a default).

Example:
    >>> import numpy as np
    >>> from pairsim.data.types import LabelledItems
    >>> data = LabelledItems(items=list("abcdef"), labels=[0, 0, 1, 1, 2, 2], modality="text")
    >>> fn = SAMPLERS.get("pairs")
    >>> draw = Draw(options=fn.Config(per_epoch=4), batch_size=2)
    >>> [b.index.shape for b in fn(data, np.random.default_rng(0), 0, draw)]
    [(2, 2), (2, 2)]
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np

from pairsim.config import MAX_BATCH, MAX_COUNT, ComponentConfig, bounded
from pairsim.data.episodes import EpisodePools, rotated
from pairsim.data.length_groups import Lengths, grouped_batches, row_lengths, shuffled_batches, sorted_megabatches
from pairsim.data.split import Stream, rng
from pairsim.data.types import LabelledItems, PairTable
from pairsim.errors import ConfigError, DataError
from pairsim.registry import Registry

Target = Literal["none", "binary", "graded", "class", "episode", "keys"]
SAMPLERS: Registry[Any] = Registry("sampler")


@dataclasses.dataclass(frozen=True)
class Consumes:
    """What a loss consumes: the side of each slot of a row, the target, and the sampler used by default.

    ``target``: "binary" 0/1 float (1 = similar), "graded" float (a table's score where it has one, else the
    label), "class" long class ids, "episode" long ``(way, is_query)`` per row, "keys" long ``(B, S, 2)``: per
    slot the id of its item's key (two items with one key id are the same thing) and the item's index in its
    side (``hard_negatives`` sampler), "none" no target.
    """

    sides: tuple[str, ...]
    target: Target = "none"
    sampler: str = "pairs"


class Rows(NamedTuple):
    """One batch: ``index (B, S)`` item index per slot, ``target`` ``(B,)``, ``(B, 2)`` or None."""

    index: np.ndarray
    target: np.ndarray | None


@dataclasses.dataclass(kw_only=True)
class SamplerConfig(ComponentConfig):
    """Base of every sampler's options; ``name`` picks the registered sampler."""

    registry: ClassVar[Any] = SAMPLERS


@dataclasses.dataclass(kw_only=True)
class GroupedSamplerConfig(SamplerConfig):
    """Options of the samplers that can form length-grouped training batches (text towers on every slot):
    ``pairs``, ``triplets``, ``ranked_pairs``, ``aligned``, ``hard_negatives`` (see :mod:`.length_groups`)."""

    group_by_length: bool = False  # training batches of similar token length: text towers pad less
    megabatch: int = bounded(50, ge=1, le=MAX_COUNT)  # group_by_length: batches drawn at random and sorted together


@dataclasses.dataclass
class Draw:
    """What a sampler is asked for besides the split.

    Args:
        options: The sampler's config.
        batch_size: Rows per global batch (all processes together).
        train: Training: shuffled, drop a short last batch. Otherwise in order, every row kept.
        target: The target type the loss wants.
        world_size: Number of processes (each global batch is cut into this many equal slices).
        where: Name of the split in messages.
        sides: The side of each slot of the loss's rows (a sampler with a variable row shape reads it).
        lengths: ``lengths(side, items)`` -> token length of each item of a side (set by
            :class:`~pairsim.data.pipeline.Batches` when the options ask for ``group_by_length``).
    """

    options: Any
    batch_size: int
    train: bool = True
    target: Target = "binary"
    world_size: int = 1
    where: str = "train"
    sides: tuple[str, ...] = ("a", "b")
    lengths: Lengths | None = None

    @property
    def grouped(self) -> bool:
        """Training batches grouped by length (the options ask for it and the lengths are known)."""
        return self.train and self.lengths is not None and bool(getattr(self.options, "group_by_length", False))


def register(
    name: str, config: type[SamplerConfig], *, sides: tuple[str, ...] | None = None,
    targets: tuple[str, ...] | None = None, view: Callable[..., Any] | None = None, stream: int = Stream.SHUFFLE,
    distinct_keys: bool = False,
) -> Callable[[Callable[..., list[Rows]]], Callable[..., list[Rows]]]:  # fmt: skip
    """Register ``fn(split, rng, epoch, draw) -> list[Rows]`` as sampler ``name``.

    Args:
        name: Short name used in recipes (``sampler: {name: ...}``).
        config: Its options dataclass (a :class:`SamplerConfig` subclass).
        sides: The row shape it makes (checked against the loss's ``consumes.sides``); None: any.
        targets: The target types it gives (checked against a loss that needs one); None: unchecked.
        view: Optional ``view(split, options) -> split`` that replaces the split before sampling and item
            lookup (e.g. rotated copies of each class as new classes).
        stream: Its random stream id (:class:`~pairsim.data.split.Stream`).
        distinct_keys: Its training batches never hold one key twice (what losses with in-batch negatives
            need; a loss whose default sampler promises it refuses length grouping by a sampler that does not).
    """

    def add(fn: Callable[..., list[Rows]]) -> Callable[..., list[Rows]]:
        fn.Config, fn.sides, fn.targets, fn.view, fn.stream = config, sides, targets, view, int(stream)  # type: ignore[attr-defined]
        fn.distinct_keys = distinct_keys  # type: ignore[attr-defined]
        return SAMPLERS.register(name)(fn)

    return add


def chunk(index: np.ndarray, target: np.ndarray | None, draw: Draw, gen: np.random.Generator) -> list[Rows]:
    """Rows -> batches of ``draw.batch_size``: shuffled and a short last batch dropped when training; grouped
    by length when ``draw.grouped`` (:func:`~pairsim.data.length_groups.grouped_batches`)."""
    if draw.grouped:
        assert draw.lengths is not None
        lengths = row_lengths(index, draw.sides, draw.lengths)  # (N,)
        batches = grouped_batches(lengths, batch_size=draw.batch_size, megabatch=draw.options.megabatch, gen=gen)
        return [Rows(index[o], None if target is None else target[o]) for o in batches]
    n = len(index)
    order = gen.permutation(n) if draw.train else np.arange(n)
    out = [order[i : i + draw.batch_size] for i in range(0, n, draw.batch_size)]
    if draw.train and out and len(out[-1]) < draw.batch_size:
        out.pop()
    return [Rows(index[o], None if target is None else target[o]) for o in out]


class ClassIndex:
    """Items grouped by class for vectorised sampling of positives and negatives.

    Args:
        labels: Class id of each item.
    """

    def __init__(self, labels: Sequence[int]) -> None:
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


def balanced_pairs(
    data: LabelledItems, num_pairs: int, positive_fraction: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``num_pairs`` pairs of item indices ``(P, 2)`` and labels ``(P,)``: ``positive_fraction`` same-class."""
    index = ClassIndex(data.labels)
    n_pos = round(num_pairs * positive_fraction)
    anchors = gen.integers(0, index.n, size=num_pairs)  # (P,)
    partners = np.empty_like(anchors)
    partners[:n_pos] = index.positives(anchors[:n_pos], gen)
    partners[n_pos:] = index.negatives(anchors[n_pos:], gen)
    labels = np.zeros(num_pairs, dtype=np.float32)
    labels[:n_pos] = 1.0
    swap = gen.random(num_pairs) < 0.5  # random order within a pair, so side a is no special item
    pairs = np.stack([np.where(swap, partners, anchors), np.where(swap, anchors, partners)], axis=1)  # (P, 2)
    perm = gen.permutation(num_pairs)
    return pairs[perm], labels[perm]


def fixed_pairs(
    data: LabelledItems, *, num_pairs: int | None = None, positive_fraction: float = 0.5, seed: int = 0,
    where: str = "pairs",
) -> PairTable:  # fmt: skip
    """A fixed, balanced verification set of labelled items as a :class:`PairTable` (label 1 = same class)."""
    data.check_pairable(where)
    pairs, y = balanced_pairs(data, num_pairs or len(data), positive_fraction, rng(seed, 0, Stream.PAIRS))
    return PairTable(
        a=[data.items[i] for i in pairs[:, 0]], b=[data.items[i] for i in pairs[:, 1]],
        labels=[float(v) for v in y], modality=data.modality,
    )  # fmt: skip


def mismatch(keys: list[Any], rows: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """For each row, another row whose key differs (uniform among them)."""
    k = np.unique(np.asarray([str(x) for x in keys]), return_inverse=True)[1]  # (N,) key ids
    if len(set(k.tolist())) < 2:
        raise DataError("pairs: mismatched pairs need at least 2 distinct keys (e.g. 2 images)")
    other = gen.integers(0, len(keys), size=len(rows))
    bad = k[other] == k[rows]
    while bad.any():  # redraw the few that hit their own key
        other[bad] = gen.integers(0, len(keys), size=int(bad.sum()))
        bad = k[other] == k[rows]
    return other


@dataclasses.dataclass(kw_only=True)
class PairsConfig(GroupedSamplerConfig):
    name: str = "pairs"
    per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # labelled items: pairs drawn per epoch; 0: one per item
    # share of similar pairs drawn (labelled items, all-positive tables)
    positive_fraction: float = bounded(0.5, ge=0, le=1)


@register("pairs", PairsConfig, sides=("a", "b"), targets=("binary", "graded"), stream=Stream.PAIRS)
def pairs(split: Any, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Pairs with a target: balanced pairs of labelled items; a table's rows as they are; or, for a table
    whose rows are all similar (caption-image data), each row kept or its keyed side swapped for another key's
    item (label 0), with probability ``positive_fraction`` of keeping it."""
    opt = draw.options
    if isinstance(split, LabelledItems):
        split.check_pairable(draw.where)
        index, target = balanced_pairs(split, opt.per_epoch or len(split), opt.positive_fraction, gen)
        return chunk(index, target, draw, gen)
    rows = np.arange(len(split))
    index = np.stack([rows, rows], axis=1)  # (N, 2)
    target = np.asarray(split.labels, dtype=np.float32)  # (N,)
    if draw.target == "graded" and split.scores is not None:
        target = np.asarray(split.scores, dtype=np.float32)
    elif target.min() >= 0.5 and (split.keys_a is not None or split.keys_b is not None):
        side = 1 if split.keys_b is not None else 0
        keep = gen.random(len(rows)) < opt.positive_fraction
        other = mismatch(split.keys("b" if side else "a"), rows, gen)
        index[:, side] = np.where(keep, rows, other)
        target = keep.astype(np.float32)
    return chunk(index, target, draw, gen)


@dataclasses.dataclass(kw_only=True)
class TripletsConfig(GroupedSamplerConfig):
    name: str = "triplets"
    per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # triplets drawn per epoch; 0: one per item


@register("triplets", TripletsConfig, sides=("a", "b", "b"), targets=(), stream=Stream.TRIPLETS)
def triplets(split: LabelledItems, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """``(anchor, positive, negative)`` rows of labelled items; anchors through side a, the others side b."""
    _labelled(split, "triplets").check_pairable(draw.where)
    index = ClassIndex(split.labels)
    anchors = gen.integers(0, index.n, size=draw.options.per_epoch or len(split))  # (T,)
    rows = np.stack([anchors, index.positives(anchors, gen), index.negatives(anchors, gen)], axis=1)  # (T, 3)
    return chunk(rows, None, draw, gen)


@dataclasses.dataclass(kw_only=True)
class PKConfig(SamplerConfig):
    name: str = "pk"
    classes_per_batch: int = bounded(8, ge=2, le=MAX_BATCH)  # P
    samples_per_class: int = bounded(4, ge=2, le=MAX_BATCH)  # K (every item has a positive in its batch)
    batches_per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # 0: items // (P * K), at least 1


@register("pk", PKConfig, sides=("a",), targets=("class",), stream=Stream.PK)
def pk(split: LabelledItems, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Batches of P classes x K items (class targets), for online triplet mining. Classes are visited in a
    fresh random order each epoch; a class with fewer than K items repeats items. Ignores ``batch_size``."""
    _labelled(split, "pk").check_pairable(draw.where)
    p, k = draw.options.classes_per_batch, draw.options.samples_per_class
    if p < 2 or k < 2:
        raise DataError(f"P x K batches need P >= 2 classes and K >= 2 samples, got {p} x {k}")
    classes = {c: np.asarray(ix) for c, ix in split.by_class().items() if len(ix) >= 2}
    if len(classes) < p:
        raise DataError(f"P x K batches: need {p} classes with at least 2 items, found {len(classes)}")
    keys, queue, out = list(classes), [], []
    for _ in range(draw.options.batches_per_epoch or max(1, len(split) // (p * k))):
        if len(queue) < p:  # refill with a fresh permutation of the classes
            queue += [keys[i] for i in gen.permutation(len(keys))]
        chosen: list[int] = []
        rest: list[int] = []
        for c in queue:  # take P distinct classes from the front of the queue
            (chosen if len(chosen) < p and c not in chosen else rest).append(c)
        queue = rest
        batch = np.concatenate(
            [classes[c][gen.choice(len(classes[c]), size=k, replace=len(classes[c]) < k)] for c in chosen]
        )
        out.append(Rows(batch[:, None], np.repeat(np.asarray(chosen, dtype=np.int64), k)))
    return out


@dataclasses.dataclass(kw_only=True)
class AlignedConfig(GroupedSamplerConfig):
    name: str = "aligned"
    drop_last: bool = True  # training: drop batches smaller than the batch size (in-batch negatives want full ones)


@register("aligned", AlignedConfig, sides=("a", "b"), targets=(), stream=Stream.ALIGNED, distinct_keys=True)
def aligned(split: PairTable, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Batches of similar pairs where row i of side a matches row i of side b and no key (an image id, a
    repeated sentence) appears twice in a batch on either side, so every other row is a true negative.
    Every similar pair is visited once per epoch; images with many captions are spread over the epoch."""
    if not isinstance(split, PairTable):
        raise ConfigError("sampler 'aligned' needs pair or caption-image data, not labelled items")
    rows = [i for i, y in enumerate(split.labels) if y >= 0.5]
    if not rows:
        raise DataError(f"{draw.where}: no similar (label 1) pairs for aligned batches")
    ka, kb = split.keys("a"), split.keys("b")
    main = kb if split.keys_b is not None or split.keys_a is None else ka
    size = draw.batch_size
    n_keys = len({main[r] for r in rows})
    if not 1 <= size <= n_keys:
        raise DataError(f"aligned batches: global batch size {size} must lie in 1..{n_keys} (the distinct keys)")
    by_key: dict[Any, list[int]] = {}
    for r in gen.permutation(len(rows)) if draw.train else range(len(rows)):
        by_key.setdefault(main[rows[r]], []).append(rows[r])
    groups = list(by_key.values())
    sequence = []
    for rnd in range(max(len(g) for g in groups)):  # round r: the r-th row of each key, keys in random order
        for j in gen.permutation(len(groups)) if draw.train else range(len(groups)):
            if rnd < len(groups[j]):
                sequence.append(groups[j][rnd])
    lengths = None
    if draw.grouped:  # sort runs of `megabatch` batches by length; the builder below still keeps keys apart
        assert draw.lengths is not None
        table_rows = np.asarray(sequence)
        lengths = np.zeros(len(split), dtype=np.int64)  # (N,) per table row
        lengths[table_rows] = row_lengths(np.stack([table_rows, table_rows], axis=1), ("a", "b"), draw.lengths)
        sequence = sorted_megabatches(table_rows, lengths, size * draw.options.megabatch).tolist()
    queue, out = deque(sequence), []
    while queue:
        batch, seen, deferred = [], set(), []
        while queue and len(batch) < size:
            r = queue.popleft()
            if ("a", ka[r]) in seen or ("b", kb[r]) in seen:
                deferred.append(r)
            else:
                batch.append(r)
                seen.update({("a", ka[r]), ("b", kb[r])})
        if not batch:  # only rows whose key pairs clash are left: they cannot share a batch
            batch = [queue.popleft() if not deferred else deferred.pop(0)]
        queue.extendleft(reversed(deferred))
        out.append(batch)
    if draw.train and draw.options.drop_last:
        out = [b for b in out if len(b) == size]
    if lengths is not None:
        out = [b.tolist() for b in shuffled_batches([np.asarray(b) for b in out], lengths, gen)]
    return [Rows(np.stack([np.asarray(b), np.asarray(b)], axis=1), None) for b in out]


@dataclasses.dataclass(kw_only=True)
class EpisodesConfig(SamplerConfig):
    name: str = "episodes"
    n_way: int = bounded(5, ge=2, le=MAX_BATCH)  # classes per episode
    k_shot: int = bounded(1, ge=1, le=MAX_BATCH)  # support items per class
    n_query: int = bounded(5, ge=1, le=MAX_BATCH)  # query items per class
    within_group: bool = False  # draw an episode's classes from one group (an Omniglot alphabet)
    rotations: list[int] = bounded(
        default_factory=list, ge=90, le=270
    )  # extra classes: each class rotated by 90/180/270
    episodes_per_epoch: int = bounded(100, ge=1, le=MAX_COUNT)

    def check(self) -> None:
        if any(r not in (90, 180, 270) for r in self.rotations):
            raise ConfigError(f"rotations: expected degrees among 90, 180, 270, got {self.rotations}")


def _rotations(split: LabelledItems, options: EpisodesConfig) -> LabelledItems:
    return rotated(_labelled(split, "episodes"), options.rotations)


@register("episodes", EpisodesConfig, sides=("a",), targets=("episode",), view=_rotations, stream=Stream.EPISODES)
def episodes(split: LabelledItems, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """N-way k-shot episodes, one per process in each global batch: N*k support rows (grouped by way) then N*q
    query rows in random order; target ``(way, is_query)``. ``batch_size`` is ignored."""
    opt = draw.options
    pools = EpisodePools(_labelled(split, "episodes"), opt.n_way, opt.k_shot, opt.n_query, opt.within_group)
    out = []
    for _ in range(opt.episodes_per_epoch):
        parts = [pools.draw(gen) for _ in range(draw.world_size)]
        index = np.concatenate([np.asarray(sup + qry) for _, sup, qry, _ in parts])[:, None]  # (W*N*(k+q), 1)
        target = np.concatenate([np.asarray(t) for *_, t in parts])  # (W*N*(k+q), 2)
        out.append(Rows(index, target))
    return out


def _labelled(split: Any, name: str) -> LabelledItems:
    if not isinstance(split, LabelledItems):
        raise ConfigError(f"sampler {name!r} needs class-labelled items, not {type(split).__name__}")
    return split
