"""Binary cross-entropy on the head's probability (Koch, Zemel & Salakhutdinov 2015)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class BCEConfig(LossConfig):
    pos_weight: float = bounded(1.0, gt=0)  # weight of the similar (label 1) pairs, for unbalanced data


@LOSSES.register("bce")
class BCELoss(Loss):
    """``BCE(sigmoid(head.logit(score)), y)`` with **label y = 1 for similar pairs**.

    Needs a head that gives a probability: ``weighted_l1`` (Koch et al.'s learned weighting of
    ``|a - b|``), ``exp`` (MaLSTM's score in (0, 1]) or any head with ``calibrated: true``.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("weighted_l1")(HEADS.get("weighted_l1").Config(name="weighted_l1", dim=2))
        >>> loss = BCELoss(BCEConfig(name="bce"), head=head)
        >>> loss(torch.zeros(3, 2), torch.ones(3, 2), torch.tensor([1.0, 0.0, 1.0])).ndim
        0
    """

    Config = BCEConfig
    reads = "scores"  # the head's score of each pair only: cross-encoders train with it too
    consumes = Consumes(("a", "b"), "binary", sampler="pairs")

    def __init__(self, config: BCEConfig, *, head: Head) -> None:
        super().__init__(config, head=head)
        self._require(head.gives_probability, "it gives no probability; use weighted_l1, exp or calibrated: true")

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)``; ``labels``: ``(B,)``, 1 = similar. Returns: scalar loss."""
        logits = self.head.logit_of(a, b)  # (B,)
        pos_weight = torch.tensor(self.config.pos_weight, device=logits.device, dtype=logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=pos_weight)
