"""ListNet (Cao et al. 2007): the batch's pairs as one ranked list, scores against targets as distributions."""

from __future__ import annotations

import dataclasses

import torch

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class ListwiseConfig(LossConfig):
    scale: float = bounded(10.0, gt=0)  # multiplies the scores before their softmax (an inverse temperature)
    target_scale: float = bounded(1.0, gt=0)  # multiplies the targets before theirs (1: STS-B's 0-5 as they are)


@LOSSES.register("listwise")
class ListwiseLoss(Loss):
    """``-sum_i softmax(target_scale * y)_i * log softmax(scale * s)_i`` over the pairs of the batch.

    The top-one probability of each pair under the targets (graded, higher = more similar) against the one
    under the head's scores (its direction from :meth:`Head.margin`): a listwise ranking loss, the one
    sentence-transformers' ``ListNetLoss`` applies to a query's candidates, here to the batch as one list.

    Example:
        >>> from pairsim.heads import HEADS
        >>> loss = ListwiseLoss(ListwiseConfig(name="listwise", scale=1.0), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> a = torch.tensor([[1.0, 0.0], [1.0, 0.0]]); b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # s = 1, 0
        >>> round(float(loss(a, b, torch.tensor([0.0, 0.0]))), 4)  # uniform targets: -(log p1 + log p2) / 2
        0.8133
    """

    Config = ListwiseConfig
    reads = "scores"
    consumes = Consumes(("a", "b"), "graded", sampler="pairs")

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)``; ``labels``: ``(B,)`` graded targets, higher = more similar."""
        scores = self.head(a, b)  # (B,)
        signed = self.head.margin(scores, torch.zeros_like(scores))  # (B,): higher = more similar
        target = torch.softmax(labels.to(scores.dtype) * self.config.target_scale, dim=0)  # (B,)
        return -(target * torch.log_softmax(signed * self.config.scale, dim=0)).sum()
