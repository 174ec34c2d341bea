"""The one path from a split on disk to a loss: sampler -> item indices -> towers -> batch -> loss.

Design (issue 9):

* **The loss declares its rows.** ``Loss.consumes`` is a :class:`~pairsim.data.samplers.Consumes`: the side of
  each slot of a row (``("a", "b")`` pairs, ``("a", "b", "b")`` triplets, ``("a",)`` single items, any other
  shape a new loss wants), the target type (binary, graded, class, episode or none) and a default sampler.
* **A sampler is a registered plain function** ``fn(split, rng, epoch, draw) -> list[Rows]`` giving the epoch's
  global batches as item indices per slot plus targets (:mod:`pairsim.data.samplers`: ``pairs``, ``triplets``,
  ``pk``, ``aligned``, ``episodes``; :mod:`pairsim.data.ranked_pairs`: ``ranked_pairs``). The recipe's ``sampler:`` section picks one and holds its options.
* **Data has sides.** :func:`side_items` is the one place that knows the data types: labelled items give the
  same items to both sides; a :class:`~pairsim.data.types.PairTable` has its own items, modality and keys per
  side; caption-image data is a table keyed by image id with the images on either side.
* **One dataset, one collator.** :class:`Batches` maps a batch number to that batch: each slot's items go
  through the tower of the slot's side (``featurize(items, train=..., rng=...)``: towers own all
  preprocessing, training augmentation and token caching included), then ``collate``; the target becomes a
  tensor. The batch is ``(*slot_batches, target)`` (no target: just the slot batches).
* **The training step is one line** (:class:`pairsim.train.step.TrainStep`): embed each slot with its side's
  tower, call the loss.
* **Length-grouped batches** (``group_by_length`` in the sampler's options, text towers): :class:`Batches` hands
  the sampler each side's token lengths (``Draw.lengths``, the side tokenised once); see
  :mod:`pairsim.data.length_groups`.
* **Reproducible, resumable, distributed.** Batches of epoch ``e`` come from ``rng(seed, e, Stream.X)``; a
  resumed run skips the first ``start`` batches without loading them; with ``world_size`` processes each
  global batch is cut into equal slices, one per rank, so a distributed step sees exactly one process's batch.

Example:
    >>> from pairsim.data.samplers import Consumes, PairsConfig
    >>> from pairsim.data.types import LabelledItems
    >>> class Len:
    ...     modality = "text"
    ...     def featurize(self, items, train=False, rng=None): return [{"n": len(t)} for t in items]
    ...     def collate(self, feats): return {"n": torch.tensor([f["n"] for f in feats])}
    >>> data = LabelledItems(items=["a", "bb", "c", "dd"], labels=[0, 1, 0, 1], modality="text")
    >>> feed = Batches(data, Consumes(("a", "b"), "binary"), (Len(), Len()), PairsConfig(), batch_size=2)
    >>> a, b, y = next(feed.epoch(0))
    >>> a["n"].shape, y.dtype
    (torch.Size([2]), torch.float32)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pairsim.config import from_dict
from pairsim.data.length_groups import Lengths
from pairsim.data.samplers import SAMPLERS, Consumes, Draw, Rows, SamplerConfig
from pairsim.data.split import Stream, rng
from pairsim.data.types import CaptionImages, LabelledItems, PairTable
from pairsim.errors import ConfigError, DataError


def as_table(split: Any) -> LabelledItems | PairTable:
    """The split as labelled items or a pair table (caption-image data: pairs keyed by image id)."""
    if isinstance(split, CaptionImages):
        return split.to_pairs()
    if isinstance(split, (LabelledItems, PairTable)):
        return split
    raise DataError(f"cannot sample from {type(split).__name__}; expected LabelledItems, PairTable or CaptionImages")


def side_items(split: LabelledItems | PairTable) -> dict[str, tuple[Sequence[Any], str]]:
    """``{side: (items, modality)}``: what a row index of each side points into."""
    if isinstance(split, LabelledItems):
        return {"a": (split.items, split.modality), "b": (split.items, split.modality)}
    return {"a": (split.a, split.side_modality("a")), "b": (split.side_b_items(), split.side_modality("b"))}


def side_inputs(split: Any) -> tuple[list[Any], list[Any] | None]:
    """The raw inputs of each side of a training split, for fitting vocabularies (``PairModel.adapt``)."""
    if isinstance(split, CaptionImages):
        images, texts = list(split.images), list(split.captions)
        return (images, texts) if split.image_side == "a" else (texts, images)
    if isinstance(split, PairTable):
        return list(split.a), list(split.side_b_items())  # explicit negatives are side-b inputs too
    return list(split.items), None


def sampler_config(config: SamplerConfig | dict[str, Any] | None, consumes: Consumes) -> SamplerConfig:
    """The recipe's sampler options, or the loss's default sampler with default options."""
    if config is None:
        return SAMPLERS.get(consumes.sampler).Config()
    if isinstance(config, dict):
        return from_dict(SamplerConfig, config, where="sampler")
    return config


class Batches(Dataset[tuple[Any, ...]]):
    """Batches of one split for one loss: ``batches[i]`` is this rank's ``i``-th batch of the current epoch.

    Args:
        split: The split (labelled items, pair table or caption-image data).
        consumes: The loss's row declaration.
        towers: ``(tower_a, tower_b)``; the same object twice when tied.
        sampler: The sampler's config (None: the loss's default sampler).
        batch_size: Rows per optimiser step over all processes.
        seed: Seed of sampling, batch order and augmentation.
        train: Training: fresh rows every epoch, shuffled, augmented, short last batch dropped. Otherwise
            epoch 0's rows in order, never augmented, every row kept.
        rank: This process's rank.
        world_size: Number of processes.
        num_workers: DataLoader worker processes (each loads whole batches).
        pin_memory: Pin host memory (GPU training).

    Raises:
        ConfigError: The sampler's rows do not fit the loss, a tower's modality does not fit its side, or the
            batch size does not split over the processes.
        DataError: The split cannot give one batch.
    """

    def __init__(
        self, split: Any, consumes: Consumes, towers: tuple[Any, Any], sampler: SamplerConfig | None = None, *,
        batch_size: int = 32, seed: int = 0, train: bool = True, rank: int = 0, world_size: int = 1,
        num_workers: int = 0, pin_memory: bool = False,
    ) -> None:  # fmt: skip
        config = sampler_config(sampler, consumes)
        self.fn = SAMPLERS.get(config.name)
        if self.fn.sides is not None and tuple(self.fn.sides) != tuple(consumes.sides):
            raise ConfigError(
                f"sampler {config.name!r} makes rows of sides {self.fn.sides} but the loss consumes {consumes.sides}"
            )
        targets = getattr(self.fn, "targets", None)
        if consumes.target != "none" and targets is not None and consumes.target not in targets:
            given = ", ".join(targets) or "no"
            raise ConfigError(
                f"sampler {config.name!r} gives {given} targets but the loss needs {consumes.target} targets"
            )
        if batch_size < 1 or batch_size % world_size:
            raise ConfigError(f"train.batch_size: {batch_size} does not split evenly over {world_size} processes")
        if not 0 <= rank < world_size:
            raise DataError(f"batches: rank {rank} is outside 0..{world_size - 1}")
        table = as_table(split)
        self.split = self.fn.view(table, config) if self.fn.view is not None else table
        if len(self.split) == 0:
            raise DataError(f"{type(split).__name__}: the split is empty; cannot draw {config.name!r} rows")
        sides = side_items(self.split)
        for side in sorted(set(consumes.sides)):
            got = getattr(towers[side == "b"], "modality", None)
            if got is not None and got != sides[side][1]:
                raise ConfigError(
                    f"tower_{side} is a {got} tower but side {side} of the data holds {sides[side][1]} items"
                )
        self.slots: list[tuple[Sequence[Any], Any]] = [(sides[s][0], towers[s == "b"]) for s in consumes.sides]
        self.slot_sides = tuple(consumes.sides)
        self.consumes, self.seed, self.train, self.rank, self.world_size = consumes, seed, train, rank, world_size
        where = f"{'train' if train else 'eval'} {type(split).__name__}"
        self.draw = Draw(config, batch_size, train, consumes.target, world_size, where, tuple(consumes.sides))
        if train and getattr(config, "group_by_length", False):
            self.draw.lengths = self._length_lookup(config.name, towers)
        self.num_workers, self.pin_memory = num_workers, pin_memory
        if num_workers > 0:  # workers copy the towers each epoch: fill text towers' token caches once, here
            for side in sorted(set(consumes.sides)):
                warm = getattr(towers[side == "b"], "warm_cache", None)
                if warm is not None:
                    warm(sides[side][0])
        self._cache: tuple[int, list[Rows]] | None = None
        self.epoch_no, self.start = 0, 0
        if not self.rows(0):
            raise DataError(
                f"{where}: {len(self.split)} samples give no full batch of {batch_size}; lower train.batch_size "
                "or draw more rows (the sampler's per_epoch); if the split is smaller than the data, see what the "
                "data's filters removed (logged above)"
            )
        if consumes.target != "none" and self.rows(0)[0].target is None:
            raise ConfigError(f"sampler {config.name!r} gives no targets but the loss needs {consumes.target} targets")
        self.steps_per_epoch = len(self.rows(0))

    def _length_lookup(self, name: str, towers: tuple[Any, Any]) -> Lengths:
        """``lengths(side, items)`` for length-grouped batches: each side's token lengths, tokenised once.

        Raises:
            ConfigError: A tower is not a text tower, or the loss uses in-batch negatives (its default sampler
                keeps keys apart) and this sampler does not.
        """
        default = SAMPLERS.get(self.consumes.sampler)
        if getattr(default, "distinct_keys", False) and not getattr(self.fn, "distinct_keys", False):
            raise ConfigError(
                f"sampler.group_by_length: the loss uses in-batch negatives (no key twice in a batch) and sampler "
                f"{name!r} does not keep keys apart; use sampler {self.consumes.sampler!r} with group_by_length"
            )
        items = side_items(self.split)
        for side in dict.fromkeys(self.slot_sides):
            if not hasattr(towers[side == "b"], "token_lengths"):
                raise ConfigError(
                    f"sampler.group_by_length: needs text towers, but side {side} has a "
                    f"{getattr(towers[side == 'b'], 'modality', 'non-text')} tower"
                )
        table: dict[str, np.ndarray] = {}

        def lengths(side: str, index: np.ndarray) -> np.ndarray:
            if side not in table:  # every item of the side at once: one tokenizer pass, cached by the tower
                table[side] = np.asarray(towers[side == "b"].token_lengths(items[side][0]), dtype=np.int64)
            return table[side][index]  # (N,)

        return lengths

    def side_inputs(self) -> dict[str, Sequence[Any]]:
        """``{side: items}`` of each side the loss consumes (what a row index of that side points into)."""
        return {side: self.slots[self.slot_sides.index(side)][0] for side in dict.fromkeys(self.slot_sides)}

    def use_embeddings(self, side: str, stand_in: Any) -> None:
        """Serve ``side`` from a stand-in tower fed with row numbers instead of items (stored embeddings of a
        frozen tower: :class:`pairsim.train.frozen.FrozenEmbeddings`)."""
        rows = range(len(self.side_inputs()[side]))
        self.slots = [
            (rows, stand_in) if s == side else slot for s, slot in zip(self.slot_sides, self.slots, strict=True)
        ]

    def rows(self, epoch: int) -> list[Rows]:
        """This rank's batches of ``epoch`` as item indices and targets (before any resume offset)."""
        epoch = epoch if self.train else 0
        if self._cache is None or self._cache[0] != epoch:
            every = self.fn(self.split, rng(self.seed, epoch, self.fn.stream), epoch, self.draw)
            mine = []
            for b in every:  # cut each global batch into one equal slice per rank
                n = len(b.index) // self.world_size
                if n == 0:
                    continue
                cut = slice(self.rank * n, (self.rank + 1) * n)
                mine.append(Rows(b.index[cut], None if b.target is None else b.target[cut]))
            self._cache = (epoch, mine)
        return self._cache[1]

    def __len__(self) -> int:
        return max(0, len(self.rows(self.epoch_no)) - self.start)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        number = i + self.start
        rows = self.rows(self.epoch_no)[number]
        out: list[Any] = []
        first = self.rank * len(rows.index)  # this slice's first row in the global batch
        for slot, (items, tower) in enumerate(self.slots):
            picked = [items[int(j)] for j in rows.index[:, slot]]
            gens = None  # one augmentation generator per item, named by its place in the global batch
            if self.train and getattr(tower, "augments", True):
                gens = [
                    rng(self.seed, self.epoch_no, Stream.AUGMENT, number, first + r, slot) for r in range(len(picked))
                ]
            out.append(tower.collate(tower.featurize(picked, train=self.train, rng=gens)))
        if self.consumes.target != "none" and rows.target is not None:
            dtype = torch.long if self.consumes.target in ("class", "episode", "keys") else torch.float32
            out.append(torch.as_tensor(rows.target, dtype=dtype))  # (B,), (B, 2) or keys (B, S, 2)
        return tuple(out)

    def epoch(self, epoch: int, *, start: int = 0, limit: int | None = None) -> Iterator[tuple[Any, ...]]:
        """The batches of ``epoch`` from batch ``start`` (to resume) up to batch ``limit``."""
        self.epoch_no, self.start = epoch, start
        self.rows(epoch)  # draw before workers copy the dataset
        try:
            loader = DataLoader(self, batch_size=None, num_workers=self.num_workers, pin_memory=self.pin_memory)
            for i, batch in enumerate(loader, start=start):
                if limit is not None and i >= limit:
                    return
                yield batch
        finally:
            self.start = 0
