"""Symmetric in-batch contrastive loss (InfoNCE / CLIP) for caption-image retrieval."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from pairsim.config import bounded
from pairsim.data.samplers import Consumes
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig


@dataclasses.dataclass(kw_only=True)
class InfoNCEConfig(LossConfig):
    temperature: float = bounded(0.07, gt=0)  # initial softmax temperature (CLIP)
    learn_temperature: bool = True  # learn log(1 / temperature)
    max_scale: float = bounded(100.0, gt=0)  # cap on 1 / temperature, as in CLIP
    gather: bool = True  # under torch.distributed, use every rank's batch as negatives


def _gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' rows (gradients flow back to each rank), and this rank's offset in them."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    from torch.distributed.nn.functional import all_gather

    parts = all_gather(x)
    return torch.cat(parts), dist.get_rank() * x.shape[0]


@LOSSES.register("infonce")
class InfoNCELoss(Loss):
    """Cross-entropy of each ``a[i]`` against all ``b`` (and each ``b[i]`` against all ``a``) where the
    matching row is the positive (label 1 = similar: the diagonal) and every other row in the batch is a
    negative. Logits are the head's signed scores times a learnable ``1 / temperature``.

    Under ``torch.distributed`` the other ranks' rows are gathered (with gradients) so the negatives are
    the whole global batch, and the result equals a single process with the same global batch.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        >>> loss = InfoNCELoss(InfoNCEConfig(name="infonce"), head=head)
        >>> loss(torch.eye(4), torch.eye(4)) < loss(torch.eye(4), torch.eye(4).roll(1, 0))
        tensor(True)
    """

    Config = InfoNCEConfig
    consumes = Consumes(("a", "b"), "none", sampler="aligned")

    def __init__(self, config: InfoNCEConfig, *, head: Head) -> None:
        super().__init__(config, head=head)
        init = torch.tensor(math.log(1.0 / config.temperature))
        self.log_scale = nn.Parameter(init) if config.learn_temperature else nn.Buffer(init)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Args: ``a, b``: ``(B, D)``, row i of ``a`` matches row i of ``b``. Returns: scalar loss."""
        scale = self.log_scale.clamp(max=math.log(self.config.max_scale)).exp()
        if self.config.gather:
            all_a, offset = _gather(a)  # (W*B, D)
            all_b, _ = _gather(b)  # (W*B, D)
        else:
            all_a, all_b, offset = a, b, 0
        targets = torch.arange(a.shape[0], device=a.device) + offset  # (B,)
        logits_ab = scale * self.head._signed(self.head.matrix(a, all_b))  # (B, W*B)
        logits_ba = scale * self.head._signed(self.head.matrix(b, all_a))  # (B, W*B)
        return (F.cross_entropy(logits_ab, targets) + F.cross_entropy(logits_ba, targets)) / 2
