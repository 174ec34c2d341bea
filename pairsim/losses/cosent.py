"""CoSENT (Su 2022): a ranking loss over the pairs of a batch, for graded similarity such as STS-B."""

from __future__ import annotations

import dataclasses

import torch

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class CoSENTConfig(LossConfig):
    scale: float = bounded(20.0, gt=0)  # multiplies score differences before the log-sum-exp (20 in the paper)


@LOSSES.register("cosent")
class CoSENTLoss(Loss):
    """``log(1 + sum over (i, j) with y_i > y_j of exp(scale * (s_j - s_i)))``.

    Every pair of pairs in the batch whose targets are ordered (pair i more similar than pair j) adds a
    penalty when the head scores j above i. Targets are graded (STS-B's 0-5 gold score: the trainer feeds
    the score instead of the binarised label when the data has one) or 0/1 labels; **higher target = more
    similar**, so label 1 = similar as everywhere. Only the order of the scores matters, which suits
    Spearman evaluation; the head's direction comes from :meth:`Head.margin`.

    Example:
        >>> from pairsim.heads import HEADS
        >>> loss = CoSENTLoss(CoSENTConfig(name="cosent", scale=1.0), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> a = torch.tensor([[1.0, 0.0], [1.0, 0.0]]); b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # s = 1, 0
        >>> round(float(loss(a, b, torch.tensor([0.0, 5.0]))), 4)  # log(1 + exp(1 - 0))
        1.3133
    """

    Config = CoSENTConfig
    reads = "scores"  # the head's score of each pair only: cross-encoders train with it too
    consumes = Consumes(("a", "b"), "graded", sampler="pairs")  # graded targets when the data has them

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)``; ``labels``: ``(B,)`` graded or 0/1 targets, higher = more similar."""
        scores = self.head(a, b)  # (B,)
        gaps = self.config.scale * self.head.margin(scores[None, :], scores[:, None])  # (B, B): [i, j] = s_j - s_i
        ordered = labels[:, None] > labels[None, :]  # (B, B): pair i should beat pair j
        terms = torch.cat([gaps.new_zeros(1), gaps[ordered]])  # the 0 is the "1 +" inside the log
        return torch.logsumexp(terms, dim=0)
