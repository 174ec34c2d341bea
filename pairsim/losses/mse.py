"""Mean squared error between the head's score and a target score: regression on graded similarity, and
distillation of a teacher's scores into a student (sentence-transformers' ``MSELoss`` on scores)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class MSEConfig(LossConfig):
    # targets are divided by this first: 5 maps STS-B's 0-5 gold to a cosine's or a probability's 0-1; 1 for a
    # teacher's scores already in the student's units
    target_scale: float = bounded(1.0, gt=0)


@LOSSES.register("mse")
class MSELoss(Loss):
    """``mean((score_i - y_i / target_scale) ** 2)``: the targets are in the head's own units (a distance head's
    targets are distances).

    With a cross-encoder (``cross_encoder`` head, ``output: classification``) the score is the probability; with
    a bi-encoder it is the head's similarity (a cosine), so a teacher's scores distil into either.

    Example:
        >>> from pairsim.heads import HEADS
        >>> loss = MSELoss(MSEConfig(name="mse", target_scale=5.0), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> a = torch.tensor([[1.0, 0.0]]); b = torch.tensor([[1.0, 0.0]])  # cosine 1
        >>> round(float(loss(a, b, torch.tensor([2.5]))), 4)  # (1 - 0.5) ** 2
        0.25
    """

    Config = MSEConfig
    reads = "scores"
    consumes = Consumes(("a", "b"), "graded", sampler="pairs")  # graded targets when the data has them

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)`` (token rows for a cross-encoder); ``labels``: ``(B,)`` target scores."""
        scores = self.head(a, b)  # (B,)
        return F.mse_loss(scores, labels.to(scores.dtype) / self.config.target_scale)
