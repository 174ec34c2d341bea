"""One training step's forward: a batch of the rows the loss consumes -> the loss value."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairsim.losses import Loss
from pairsim.model import PairModel
from pairsim.towers import Batch
from pairsim.train.frozen import EMBEDDINGS, TRUNK


def to_device(batch: Any, device: torch.device, *, channels_last: bool = False) -> Any:
    """Move a (nested) batch of tensors to ``device``; with ``channels_last``, 4-d tensors (image batches) also
    take the channels-last memory format (see ``train.speed.channels_last``)."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last) if channels_last and batch.ndim == 4 else batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last=channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last=channels_last) for v in batch)
    return batch


class TrainStep(nn.Module):
    """Model + loss in one module, so one ``forward`` (and one DistributedDataParallel wrapper) covers every
    row shape: each slot of the batch goes through its side's tower, then the loss gets the embeddings and
    the target (see :mod:`pairsim.data.pipeline`).

    Args:
        model: The pair model.
        loss: The loss, built with ``model.head``.
        frozen: Modules kept in eval mode when the step is put in training mode (frozen tower parts, see
            :func:`pairsim.train.optim.freeze_towers`): no dropout, BatchNorm statistics left as they are.
    """

    def __init__(self, model: PairModel, loss: Loss, *, frozen: list[nn.Module] | None = None) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.frozen = list(frozen or [])  # a plain list: these stay registered under model only

    def train(self, mode: bool = True) -> TrainStep:
        """Training (or eval) mode for everything, except that frozen modules always stay in eval mode."""
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def embed(self, side: str, batch: Batch) -> torch.Tensor:
        """One slot's embeddings ``(B, D)``: its side's tower, or the stored embeddings of a frozen tower, or its
        frozen trunk's stored features through the rest of the tower (:mod:`pairsim.train.frozen`)."""
        stored = batch.get(EMBEDDINGS)
        if stored is not None:
            return stored  # (B, D)
        tower = self.model.tower_for(side)
        trunk = batch.get(TRUNK)
        if trunk is not None:
            return tower.forward_rest(trunk)  # (B, F) -> (B, D)
        return tower(batch)  # (B, D)

    def forward(self, batch: tuple[Any, ...]) -> torch.Tensor:
        return self.loss.step(self.embed, batch)


def batch_size_of(batch: tuple[Any, ...]) -> int:
    """Number of rows (pairs, triplets or items) in a batch."""
    first: Batch | torch.Tensor = batch[0]
    tensor = first if isinstance(first, torch.Tensor) else next(iter(first.values()))
    return int(tensor.shape[0])
