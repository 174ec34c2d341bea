"""Contrastive loss (Hadsell, Chopra & LeCun 2006)."""

from __future__ import annotations

import dataclasses
import math

import torch

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class ContrastiveConfig(LossConfig):
    margin: float | None = bounded(None)  # negatives are pushed past this score; None: the head's neutral score
    #                              (euclidean 1.0, cosine and exp 0.5). Hadsell et al. / the face tutorial use 2.0.


@LOSSES.register("contrastive")
class ContrastiveLoss(Loss):
    """``L = mean( y * pos^2 + (1 - y) * neg^2 ) / 2`` with **label y = 1 for similar pairs**.

    For a distance head (euclidean) this is Hadsell et al.'s loss: ``pos = d`` pulls similar pairs
    together and ``neg = max(0, margin - d)`` pushes dissimilar pairs apart until ``margin``. For a
    similarity head the same roles are taken by ``pos = best - s`` and ``neg = max(0, s - margin)``; the
    head supplies the direction through :meth:`Head.margin`.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("euclidean")(HEADS.get("euclidean").Config(name="euclidean"))
        >>> loss = ContrastiveLoss(ContrastiveConfig(name="contrastive", margin=2.0), head=head)
        >>> a, b = torch.zeros(2, 2), torch.tensor([[0.0, 1.0], [0.0, 1.0]])
        >>> float(loss(a, b, torch.tensor([1.0, 0.0])))  # (1^2 + (2 - 1)^2) / 2 / 2
        0.5
    """

    Config = ContrastiveConfig
    consumes = Consumes(("a", "b"), "binary", sampler="pairs")

    def __init__(self, config: ContrastiveConfig, *, head: Head) -> None:
        super().__init__(config, head=head)
        self._require(math.isfinite(head.best), "the head has no finite best score to pull positives to")
        self.margin = head.neutral if config.margin is None else config.margin
        self._require(
            head.margin(head.best, self.margin) > 0,
            f"margin {self.margin:g} must be a score worse than a perfect match ({head.best:g}), or negatives are "
            "pushed past a perfect match",
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)`` embeddings; ``labels``: ``(B,)``, 1 = similar. Returns: scalar loss."""
        scores = self.head(a, b)  # (B,)
        labels = labels.to(scores.dtype)
        pos = torch.relu(self.head.margin(self.head.best, scores))  # (B,) distance from a perfect match
        neg = torch.relu(self.head.margin(scores, self.margin))  # (B,) how far inside the margin
        return (labels * pos.pow(2) + (1 - labels) * neg.pow(2)).mean() / 2
