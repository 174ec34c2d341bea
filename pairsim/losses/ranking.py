"""Margin ranking loss for a siamese ranker (RankIQA, Liu et al. 2017)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class RankingConfig(LossConfig):
    margin: float = bounded(1.0, ge=0)  # required gap between the higher- and the lower-ranked input's score


@LOSSES.register("ranking")
class RankingLoss(Loss):
    """``mean( max(0, margin - y' * (s_a - s_b)) )`` where each tower output is a scalar score
    (``out_dim: 1``) and **label 1 = the first input ranks higher** (0 = the second), mapped to ``y' = +-1``.

    The head is not used: the ranker scores each input on its own and the pair only orders them.

    Example:
        >>> from pairsim.heads import HEADS
        >>> loss = RankingLoss(RankingConfig(name="ranking"), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> float(loss(torch.tensor([[2.0]]), torch.tensor([[0.5]]), torch.tensor([1.0])))  # 1 - 1.5 < 0
        0.0
    """

    Config = RankingConfig
    # by default: pairs of one group's items with different rank labels (distortion levels of one image), or a
    # pair table's rows as they are
    consumes = Consumes(("a", "b"), "binary", sampler="ranked_pairs")

    def __init__(self, config: RankingConfig, *, head: Head) -> None:
        super().__init__(config, head=head)

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, 1)`` or ``(B,)`` scores; ``labels``: ``(B,)``, 1 = ``a`` ranks higher."""
        if a.ndim == 2:
            if a.shape[1] != 1:
                raise ValueError(
                    f"ranking loss needs one score per input (out_dim 1), got embeddings of size {a.shape[1]}"
                )
            a, b = a[:, 0], b[:, 0]  # (B,)
        target = labels.to(a.dtype) * 2 - 1  # (B,) in {-1, +1}
        return F.margin_ranking_loss(a, b, target, margin=self.config.margin)
