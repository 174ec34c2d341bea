"""Koch et al. (2015) head: a learned weighting of ``|a - b|``, giving the logit of P(same)."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from pairsim.config import MAX_DIM, bounded
from pairsim.heads.base import HEADS, Head, HeadConfig


@dataclasses.dataclass(kw_only=True)
class WeightedL1Config(HeadConfig):
    dim: int = bounded(0, ge=0, le=MAX_DIM)  # embedding size; 0: taken from the towers when the model is built


@HEADS.register("weighted_l1")
class WeightedL1Head(Head):
    """``w . |a - b| + c`` with ``w < 0``, the siamese convnet head of Koch et al.; the score is a logit, higher is similar.

    ``sigmoid(score)`` is the probability that the pair is the same class, trained with the ``bce`` loss.

    Example:
        >>> head = WeightedL1Head(WeightedL1Config(name="weighted_l1", dim=4))
        >>> head(torch.zeros(2, 4), torch.ones(2, 4)).shape
        torch.Size([2])
    """

    Config = WeightedL1Config
    higher_is_similar = True
    best = float("inf")
    neutral = 0.0
    score_range = (-math.inf, math.inf)  # a logit: w . |a - b| + c, at most the learned offset c, unbounded below

    def __init__(self, config: WeightedL1Config) -> None:
        if config.dim <= 0:
            raise ValueError("weighted_l1 head needs dim > 0 (PairModel fills it from the towers)")
        super().__init__(config)
        # w = -softplus(raw) < 0: a larger |a - b| always lowers the score, so "higher is similar" holds from
        # initialisation on, not only after training has found the sign (Koch et al. learn w unconstrained)
        self.raw_weight = nn.Parameter(torch.full((config.dim,), math.log(math.expm1(1.0 / config.dim))))
        self.offset = nn.Parameter(torch.zeros(()))

    @property
    def weight(self) -> torch.Tensor:
        """The per-dimension weights of ``|a - b|``, all negative ``(D,)``."""
        return -F.softplus(self.raw_weight)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs() @ self.weight + self.offset  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        rows, w = [], self.weight
        for start in range(0, a.shape[0], chunk):  # chunks bound memory at (chunk, Bb, D)
            diff = (a[start : start + chunk, None, :] - b[None, :, :]).abs()  # (c, Bb, D)
            rows.append(diff @ w + self.offset)  # (c, Bb)
        return torch.cat(rows)  # (Ba, Bb)

    @property
    def gives_probability(self) -> bool:
        return True

    def logit(self, scores: torch.Tensor) -> torch.Tensor:
        return super().logit(scores) if self.config.calibrated else scores
