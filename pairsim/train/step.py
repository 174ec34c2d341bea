"""One training step's forward: a batch of the kind the loss asks for -> the loss value."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairsim.losses import Loss
from pairsim.model import PairModel
from pairsim.towers import Batch


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a (nested) batch of tensors to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class TrainStep(nn.Module):
    """Model + loss in one module, so one ``forward`` (and one DistributedDataParallel wrapper) covers
    every kind of batch.

    Batches by the loss's ``input_kind``:

    * pairs: ``(batch_a, batch_b, labels)`` -> ``loss(embed_a, embed_b, labels)``
    * triplets: ``(anchor, positive, negative)`` -> anchors through side a, the others through side b
    * classes: ``(batch, class_labels)`` -> ``loss(embed_a, class_labels)``
    * aligned: ``(batch_a, batch_b)`` -> ``loss(embed_a, embed_b)``

    Args:
        model: The pair model.
        loss: The loss, built with ``model.head``.
    """

    def __init__(self, model: PairModel, loss: Loss) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, batch: tuple[Any, ...]) -> torch.Tensor:
        kind = self.loss.input_kind
        m = self.model
        if kind == "pairs":
            batch_a, batch_b, labels = batch
            return self.loss(m.embed_a(batch_a), m.embed_b(batch_b), labels)
        if kind == "triplets":
            anchor, positive, negative = batch
            return self.loss(m.embed_a(anchor), m.embed_b(positive), m.embed_b(negative))
        if kind == "classes":
            items, labels = batch
            return self.loss(m.embed_a(items), labels)
        batch_a, batch_b = batch
        return self.loss(m.embed_a(batch_a), m.embed_b(batch_b))


def batch_size_of(batch: tuple[Any, ...]) -> int:
    """Number of examples (pairs, triplets or items) in a batch."""
    first: Batch | torch.Tensor = batch[0]
    tensor = first if isinstance(first, torch.Tensor) else next(iter(first.values()))
    return int(tensor.shape[0])
