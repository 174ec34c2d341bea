"""Prototypical networks (Snell et al. 2017): classify each query by its head score to class prototypes."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class PrototypicalConfig(LossConfig):
    scale: float = bounded(1.0, gt=0, le=1e6)  # logits = scale * signed head score (a temperature of 1 / scale)


@LOSSES.register("prototypical")
class PrototypicalLoss(Loss):
    """Cross-entropy of each query over the episode's classes, with logits ``scale * s(query, prototype)``
    oriented by the head (a distance is negated), where a class prototype is the mean of its support
    embeddings. Works with every head through ``head.matrix``; with the euclidean head it is Snell et al.'s
    loss up to their squared distance.

    Rows come from the ``episodes`` sampler: target ``(way, is_query)`` per row.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("euclidean")(HEADS.get("euclidean").Config(name="euclidean"))
        >>> loss = PrototypicalLoss(PrototypicalConfig(name="prototypical"), head=head)
        >>> z = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 0.0]])  # support of way 0, way 1, a query of way 0
        >>> round(float(loss(z, torch.tensor([[0, 0], [1, 0], [0, 1]]))), 4)  # -log softmax([0, -4])[0]
        0.0181
    """

    Config = PrototypicalConfig
    consumes = Consumes(("a",), "episode", sampler="episodes")

    def forward(self, embeddings: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args: ``embeddings (B, D)``; ``target (B, 2)``: way index and 1 for a query, 0 for support."""
        way, query = target[:, 0], target[:, 1].bool()  # (B,), (B,)
        n_way = int(way.max()) + 1
        support, support_way = embeddings[~query], way[~query]  # (S, D), (S,)
        sums = embeddings.new_zeros(n_way, embeddings.shape[1]).index_add(0, support_way, support)  # (N, D)
        counts = torch.bincount(support_way, minlength=n_way).clamp(min=1).to(embeddings.dtype)  # (N,)
        prototypes = sums / counts[:, None]  # (N, D)
        logits = self.config.scale * self.head._signed(self.head.matrix(embeddings[query], prototypes))  # (Q, N)
        return F.cross_entropy(logits, way[query])
