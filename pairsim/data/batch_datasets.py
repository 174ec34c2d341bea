"""Map-style datasets behind the loaders, one per (data kind, batch kind), and the batch collator.

Each dataset returns per-item features (via :class:`~pairsim.data.encoder.ItemEncoder`) and follows
``set_epoch``: samples and augmentation of epoch ``e`` are fixed by ``(seed, e)``.

Example:
    >>> # dataset = LabelledPairs(PairDataset(items, seed=0), encoder, encoder); dataset[0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from pairsim.data.encoder import Features, ItemEncoder
from pairsim.data.sampling import PairDataset, TripletDataset
from pairsim.data.split import rng
from pairsim.data.types import CaptionImages, LabelledItems, PairTable
from pairsim.errors import DataError


class BatchDataset(Dataset[tuple[Any, ...]]):
    """Base of the map-style datasets behind the loaders; ``set_epoch`` re-draws samples and augmentation."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        inner = getattr(self, "sampler", None)
        if inner is not None:
            inner.set_epoch(epoch)

    def __len__(self) -> int:
        return self.length


class LabelledPairs(BatchDataset):
    """Balanced pairs drawn from labelled items: ``(features_a, features_b, label)``."""

    def __init__(self, sampler: PairDataset, enc_a: ItemEncoder, enc_b: ItemEncoder) -> None:
        super().__init__(len(sampler))
        self.sampler, self.enc_a, self.enc_b = sampler, enc_a, enc_b

    def __getitem__(self, i: int) -> tuple[Features, Features, float]:
        a, b, y = self.sampler.indices(i)
        items = self.sampler.data.items
        return self.enc_a(items[a], (self.epoch, i, 0)), self.enc_b(items[b], (self.epoch, i, 1)), y


class TablePairs(BatchDataset):
    """Fixed pairs of a table: ``(features_a, features_b, label or score)``."""

    def __init__(self, table: PairTable, enc_a: ItemEncoder, enc_b: ItemEncoder, target: str) -> None:
        super().__init__(len(table))
        if target == "score" and table.scores is None:
            raise DataError("pair_target: score needs a table with graded scores (e.g. stsb); this one has none")
        self.table, self.enc_a, self.enc_b = table, enc_a, enc_b
        self.targets = table.scores if target == "score" else table.labels

    def __getitem__(self, i: int) -> tuple[Features, Features, float]:
        t = self.table
        return self.enc_a(t.a[i], (self.epoch, i, 0)), self.enc_b(t.b[i], (self.epoch, i, 1)), float(self.targets[i])


class CaptionPairs(BatchDataset):
    """Caption-image pairs, one per caption per epoch: its own image (label 1) or another image (label 0)."""

    def __init__(
        self,
        data: CaptionImages,
        enc_img: ItemEncoder,
        enc_txt: ItemEncoder,
        image_first: bool,
        seed: int,
        positive_fraction: float,
        fixed: bool,
    ) -> None:
        super().__init__(len(data))
        if len(data.images) < 2:
            raise DataError("caption pairs: need at least 2 images for mismatched pairs")
        self.data, self.enc_img, self.enc_txt, self.image_first = data, enc_img, enc_txt, image_first
        self.seed, self.positive_fraction, self.fixed = seed, positive_fraction, fixed

    def __getitem__(self, c: int) -> tuple[Features, Features, float]:
        gen = rng(self.seed, 0 if self.fixed else self.epoch, c, 6)
        own = self.data.caption_image[c]
        positive = bool(gen.random() < self.positive_fraction)
        other = int(gen.integers(len(self.data.images) - 1))
        image = own if positive else other + (other >= own)
        img = self.enc_img(self.data.images[image], (self.epoch, c, 0))
        txt = self.enc_txt(self.data.captions[c], (self.epoch, c, 1))
        return (img, txt, float(positive)) if self.image_first else (txt, img, float(positive))


class Triplets(BatchDataset):
    """Triplets of labelled items: ``(anchor, positive, negative)`` features."""

    def __init__(self, sampler: TripletDataset, enc_a: ItemEncoder, enc_b: ItemEncoder) -> None:
        super().__init__(len(sampler))
        self.sampler, self.enc_a, self.enc_b = sampler, enc_a, enc_b

    def __getitem__(self, i: int) -> tuple[Features, Features, Features]:
        a, p, n = self.sampler.indices(i)
        items = self.sampler.data.items
        e = self.epoch
        return self.enc_a(items[a], (e, i, 0)), self.enc_b(items[p], (e, i, 1)), self.enc_b(items[n], (e, i, 2))


class Classes(BatchDataset):
    """Single labelled items: ``(features, class_label)``."""

    def __init__(self, data: LabelledItems, enc: ItemEncoder) -> None:
        super().__init__(len(data))
        self.data, self.enc = data, enc

    def __getitem__(self, i: int) -> tuple[Features, int]:
        return self.enc(self.data.items[i], (self.epoch, i, 0)), int(self.data.labels[i])


class Aligned(BatchDataset):
    """Matching pairs ``(features_a, features_b)``: caption and its image, or a similar table pair."""

    def __init__(self, a: Sequence[Any], b: Sequence[Any], enc_a: ItemEncoder, enc_b: ItemEncoder) -> None:
        super().__init__(len(a))
        self.a, self.b, self.enc_a, self.enc_b = a, b, enc_a, enc_b

    def __getitem__(self, i: int) -> tuple[Features, Features]:
        return self.enc_a(self.a[i], (self.epoch, i, 0)), self.enc_b(self.b[i], (self.epoch, i, 1))


class Collator:
    """``collate_fn``: stacks a list of per-item tuples into tower batches and label tensors.

    Args:
        kind: The batch kind.
        tower_a: Collates side a (and the single side of "classes").
        tower_b: Collates side b (positives and negatives of "triplets").
    """

    def __init__(self, kind: str, tower_a: Any, tower_b: Any) -> None:
        self.kind, self.tower_a, self.tower_b = kind, tower_a, tower_b

    def __call__(self, rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
        cols = list(zip(*rows, strict=True))
        if self.kind == "pairs":
            labels = torch.tensor(cols[2], dtype=torch.float32)  # (B,)
            return self.tower_a.collate(list(cols[0])), self.tower_b.collate(list(cols[1])), labels
        if self.kind == "triplets":
            return (
                self.tower_a.collate(list(cols[0])),
                self.tower_b.collate(list(cols[1])),
                self.tower_b.collate(list(cols[2])),
            )
        if self.kind == "classes":
            return self.tower_a.collate(list(cols[0])), torch.tensor(cols[1], dtype=torch.long)  # (B,)
        return self.tower_a.collate(list(cols[0])), self.tower_b.collate(list(cols[1]))


class SingleItems(Dataset[Features]):
    """Single items in order, never augmented: for embedding episode items, images or captions."""

    def __init__(self, items: Sequence[Any], enc: ItemEncoder) -> None:
        self.items, self.enc = items, enc

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Features:
        return self.enc(self.items[i], (0, i, 0))


class ItemCollator:
    """``collate_fn`` of :class:`SingleItems`: the tower's ``collate``."""

    def __init__(self, tower: Any) -> None:
        self.tower = tower

    def __call__(self, rows: list[Features]) -> Any:
        return self.tower.collate(rows)
