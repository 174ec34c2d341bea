"""Triplet loss with a margin, on given triplets or mined online from class-labelled batches."""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig
from pairsim.losses.mining import MINERS


@dataclasses.dataclass(kw_only=True)
class TripletConfig(LossConfig):
    margin: float = bounded(0.2, gt=0)  # required gap between the positive's and the negative's score
    mining: Literal["none", "batch_all", "batch_hard", "semi_hard"] = "batch_hard"  # "none": given triplets


@LOSSES.register("triplet")
class TripletLoss(Loss):
    """``mean( max(0, margin - head.margin(s(a, p), s(a, n))) )``: the positive must beat the negative by ``margin``.

    With ``mining: none`` it takes explicit ``(anchor, positive, negative)`` embeddings; otherwise a batch
    of embeddings with class labels (two embeddings of one class are a positive pair, label 1 = similar)
    from which triplets are mined: ``batch_all`` (mean over violating triplets), ``batch_hard`` (per
    anchor the hardest positive and negative) or ``semi_hard`` (FaceNet).

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("euclidean")(HEADS.get("euclidean").Config(name="euclidean"))
        >>> loss = TripletLoss(TripletConfig(name="triplet", margin=1.0, mining="none"), head=head)
        >>> z = torch.zeros(1, 2)
        >>> round(float(loss(z, z, torch.tensor([[0.5, 0.0]]))), 4)  # 1.0 - (0.5 - 0.0)
        0.5
    """

    Config = TripletConfig

    def __init__(self, config: TripletConfig, *, head: Head) -> None:
        super().__init__(config, head=head)

    @property
    def consumes(self) -> Consumes:  # type: ignore[override]
        if self.config.mining == "none":
            return Consumes(("a", "b", "b"), "none", sampler="triplets")
        return Consumes(("a",), "class", sampler="pk")

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        """``forward(anchor, positive, negative)`` when mining is "none", else ``forward(embeddings, labels)``."""
        if self.config.mining == "none":
            return self.given(*args)
        return self.mined(*args)

    def given(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        """Loss of explicit triplets, each ``(B, D)``."""
        gap = self.head.margin(self.head(anchor, positive), self.head(anchor, negative))  # (B,)
        return torch.relu(self.config.margin - gap).mean()

    def mined(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of triplets mined from ``embeddings (B, D)`` with class ``labels (B,)``."""
        sim = self.head._signed(self.head.matrix(embeddings, embeddings))  # (B, B), higher = more similar
        values = MINERS[self.config.mining](sim, labels, self.config.margin)
        if values.numel() == 0:  # no anchor has both a positive and a negative in this batch
            return sim.sum() * 0
        return values.mean()
