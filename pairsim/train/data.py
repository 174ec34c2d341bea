"""The trainer's view of the data: per-epoch, resumable, rank-aware training batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pairsim.data import AugmentConfig, CaptionImages, LabelledItems, LoaderConfig, PairTable, build_loader, set_epoch
from pairsim.errors import ConfigError
from pairsim.losses import InputKind
from pairsim.towers import Tower


def training_inputs(split: LabelledItems | PairTable | CaptionImages) -> tuple[list[Any], list[Any] | None]:
    """The raw inputs of each side of a training split, for fitting vocabularies (``PairModel.adapt``)."""
    if isinstance(split, PairTable):
        return list(split.a), list(split.b)
    if isinstance(split, CaptionImages):
        return list(split.captions), list(split.images)
    return list(split.items), None


class TrainBatches:
    """Training batches of the kind the loss asks for, drawn afresh every epoch from ``(seed, epoch)``.

    Args:
        split: The training split.
        kind: The loss's ``input_kind``.
        tower_a: Side-a tower (its ``featurize`` / ``collate`` prepare the inputs).
        tower_b: Side-b tower (``tower_a`` when tied).
        batch_size: Examples per optimiser step over all processes (split evenly between ranks).
        seed: Sampling seed.
        rank: This process's rank.
        world_size: Number of processes.
        num_workers: DataLoader worker processes.
        pin_memory: Pin host memory (GPU training).
        augment: Image augmentation of training items (the data config's ``augment``).
        pairs_per_epoch: Pairs / triplets drawn from class-labelled data per epoch; 0: one per item.
        classes_per_batch: P of P x K batches ("classes" batches, online triplet mining).
        samples_per_class: K of P x K batches.
        target: "score" feeds graded targets (STS-B's 0-5) instead of 0/1 labels when the split has them.
    """

    def __init__(
        self, split: Any, kind: InputKind, tower_a: Tower, tower_b: Tower, *, batch_size: int, seed: int,
        rank: int = 0, world_size: int = 1, num_workers: int = 0, pin_memory: bool = False,
        augment: AugmentConfig | None = None, pairs_per_epoch: int = 0, classes_per_batch: int = 8,
        samples_per_class: int = 4, target: str = "label",
    ) -> None:  # fmt: skip
        if batch_size % world_size:
            raise ConfigError(f"train.batch_size: {batch_size} does not split evenly over {world_size} processes")
        config = LoaderConfig(
            batch_size=batch_size // world_size, num_workers=num_workers, pin_memory=pin_memory, seed=seed,
            pairs_per_epoch=pairs_per_epoch or None, classes_per_batch=classes_per_batch,
            samples_per_class=samples_per_class, augment=augment or AugmentConfig(),
            pair_target="score" if target == "score" and getattr(split, "scores", None) is not None else "label",
        )  # fmt: skip
        self.loader = build_loader(
            split, kind, tower_a, tower_b, config=config, train=True, rank=rank, world_size=world_size
        )
        set_epoch(self.loader, 0)
        self.steps_per_epoch = len(self.loader)

    def epoch(self, epoch: int, *, start: int = 0, limit: int | None = None) -> Iterator[Any]:
        """The batches of ``epoch`` from batch ``start`` (to resume) up to batch ``limit``."""
        set_epoch(self.loader, epoch, start)
        for i, batch in enumerate(self.loader, start=start):
            if limit is not None and i >= limit:
                return
            yield batch
