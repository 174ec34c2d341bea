"""Batch samplers: plain shuffled batches, P-classes x K-samples batches, and caption batches with no
two captions of one image.

All are reproducible from ``(seed, epoch)``, rank-aware (``rank``/``world_size``: each process takes every
``world_size``-th batch of the same global sequence, all ranks getting the same number), and resumable
(``set_epoch(epoch, start_batch=k)`` skips the first ``k`` batches of that epoch without loading them).

Example:
    >>> sampler = PKBatchSampler([0, 0, 1, 1, 2, 2], classes_per_batch=2, samples_per_class=2, seed=0)
    >>> [len(b) for b in sampler]
    [4]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from pairsim.data.split import rng
from pairsim.errors import DataError


class EpochBatchSampler(Sampler[list[int]]):
    """Base of pairsim's batch samplers: subclasses implement :meth:`global_batches`.

    Args:
        seed: Sampling seed.
        rank: This process's rank.
        world_size: Number of processes.
    """

    def __init__(self, *, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise DataError(f"batch sampler: rank {rank} is outside 0..{world_size - 1}")
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Use the batches of ``epoch``, starting at this rank's batch ``start_batch`` (to resume a run)."""
        self.epoch, self.start_batch = epoch, start_batch

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All ranks' batches of ``epoch``, in order."""
        raise NotImplementedError

    def batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch (before ``start_batch`` is applied)."""
        every = self.global_batches(self.epoch)
        per_rank = len(every) // self.world_size
        return every[self.rank :: self.world_size][:per_rank]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()[self.start_batch :]

    def __len__(self) -> int:
        return max(0, len(self.batches()) - self.start_batch)


class IndexBatchSampler(EpochBatchSampler):
    """Batches of ``range(n)``, shuffled anew each epoch (or in order when ``shuffle`` is False).

    Args:
        n: Dataset length.
        batch_size: Items per batch (per rank).
        shuffle: Shuffle every epoch.
        drop_last: Drop a last, smaller batch.
        seed: Shuffle seed.
        rank: This process's rank.
        world_size: Number of processes.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(seed=seed, rank=rank, world_size=world_size)
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, drop_last

    def global_batches(self, epoch: int) -> list[list[int]]:
        order = rng(self.seed, epoch, 3).permutation(self.n) if self.shuffle else np.arange(self.n)
        out = [order[i : i + self.batch_size].tolist() for i in range(0, self.n, self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out


class PKBatchSampler(EpochBatchSampler):
    """Batches of P classes x K items each, for online (batch-hard / batch-all) triplet mining.

    Classes are visited in a fresh random order each epoch; a class with fewer than K items contributes
    its items with repeats.

    Args:
        labels: Class id of each item.
        classes_per_batch: P.
        samples_per_class: K (at least 2, so every item has a positive in its batch).
        num_batches: Global batches per epoch (default: items // (P*K), at least 1).
        seed: Sampling seed.
        rank: This process's rank.
        world_size: Number of processes.

    Raises:
        DataError: Fewer than P classes with at least 2 items, or K < 2.
    """

    def __init__(
        self,
        labels: Sequence[int],
        *,
        classes_per_batch: int = 8,
        samples_per_class: int = 4,
        num_batches: int | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(seed=seed, rank=rank, world_size=world_size)
        if samples_per_class < 2 or classes_per_batch < 2:
            raise DataError(
                f"P x K batches need P >= 2 classes and K >= 2 samples, got {classes_per_batch} x {samples_per_class}"
            )
        by_class: dict[int, list[int]] = {}
        for i, y in enumerate(labels):
            by_class.setdefault(int(y), []).append(i)
        self.classes = {c: np.asarray(ix) for c, ix in sorted(by_class.items()) if len(ix) >= 2}
        if len(self.classes) < classes_per_batch:
            raise DataError(
                f"P x K batches: need {classes_per_batch} classes with at least 2 items, found {len(self.classes)}"
            )
        self.p, self.k = classes_per_batch, samples_per_class
        default = max(1, len(labels) // (self.p * self.k))
        self.num_batches = default if num_batches is None else num_batches
        self.num_batches = max(self.num_batches, world_size)

    def global_batches(self, epoch: int) -> list[list[int]]:
        gen = rng(self.seed, epoch, 4)
        keys = list(self.classes)
        queue: list[int] = []
        out = []
        for _ in range(self.num_batches):
            if len(queue) < self.p:  # refill with a fresh permutation of the classes
                queue += [keys[i] for i in gen.permutation(len(keys))]
            chosen, rest = [], []
            for c in queue:  # take P distinct classes from the front of the queue
                (chosen if len(chosen) < self.p and c not in chosen else rest).append(c)
            queue = rest
            batch: list[int] = []
            for c in chosen:
                members = self.classes[c]
                pick = gen.choice(len(members), size=self.k, replace=len(members) < self.k)
                batch += members[pick].tolist()
            out.append(batch)
        return out


class CaptionBatchSampler(EpochBatchSampler):
    """Batches of caption indices in which no two captions belong to the same image.

    For in-batch-negative (InfoNCE) training on caption-image data: a second caption of the same image in
    a batch would be a false negative. Each epoch visits every caption once. With ``world_size`` > 1 the
    batches are drawn at the global size (``batch_size`` x ``world_size``, no image twice) and each is cut
    into one ``batch_size`` slice per rank, so a distributed step (negatives gathered over the ranks) sees
    exactly the batch one process sees with the global batch size.

    Args:
        caption_image: For each caption, the index of its image.
        batch_size: Captions per batch and rank (``batch_size`` x ``world_size`` at most the number of images).
        drop_last: Drop batches smaller than ``batch_size`` (x ``world_size``).
        seed: Sampling seed.
        rank: This process's rank.
        world_size: Number of processes.
    """

    def __init__(
        self,
        caption_image: Sequence[int],
        batch_size: int,
        *,
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(seed=seed, rank=rank, world_size=world_size)
        self.caption_image = np.asarray(caption_image, dtype=np.int64)
        n_images = len(np.unique(self.caption_image))
        if not (batch_size >= 1 and batch_size * world_size <= n_images):
            size = f"{batch_size}" if world_size == 1 else f"{batch_size} x {world_size} processes"
            raise DataError(f"caption batches: batch_size {size} must lie in 1..{n_images} (the number of images)")
        self.batch_size, self.drop_last = batch_size, drop_last

    def global_batches(self, epoch: int) -> list[list[int]]:
        gen = rng(self.seed, epoch, 5)
        by_image: dict[int, list[int]] = {}
        for c in gen.permutation(len(self.caption_image)).tolist():
            by_image.setdefault(int(self.caption_image[c]), []).append(c)
        rounds = max(len(v) for v in by_image.values())
        sequence: list[int] = []
        images = list(by_image)
        for r in range(rounds):  # round r: the r-th caption of each image, images in random order
            for j in gen.permutation(len(images)).tolist():
                caps = by_image[images[j]]
                if r < len(caps):
                    sequence.append(caps[r])
        size = self.batch_size * self.world_size  # one optimiser step over all ranks
        queue, out = deque(sequence), []
        while queue:
            batch, seen, deferred = [], set(), []
            while queue and len(batch) < size:
                c = queue.popleft()
                img = int(self.caption_image[c])
                if img in seen:
                    deferred.append(c)
                else:
                    batch.append(c)
                    seen.add(img)
            queue.extendleft(reversed(deferred))
            out.append(batch)
        if self.drop_last:
            out = [b for b in out if len(b) == size]
        bs = self.batch_size  # each global batch -> one slice per rank, in rank order (see batches())
        return [b[r * bs : (r + 1) * bs] for b in out for r in range(self.world_size) if b[r * bs : (r + 1) * bs]]
