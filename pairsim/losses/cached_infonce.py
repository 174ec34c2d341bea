"""``cached_infonce``: :mod:`~pairsim.losses.infonce` with GradCache, for batches larger than memory allows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from pairsim.config import MAX_BATCH, bounded
from pairsim.errors import ConfigError
from pairsim.losses.base import LOSSES
from pairsim.losses.grad_cache import cached_step
from pairsim.losses.infonce import InfoNCEConfig, InfoNCELoss


@dataclasses.dataclass(kw_only=True)
class CachedInfoNCEConfig(InfoNCEConfig):
    mini_batch_size: int = bounded(32, ge=1, le=MAX_BATCH)  # rows the towers embed at a time (memory), not the batch


@LOSSES.register("cached_infonce")
class CachedInfoNCELoss(InfoNCELoss):
    """The ``infonce`` loss (same options, same value, same gradients) with the towers run ``mini_batch_size``
    rows at a time in two passes (:mod:`pairsim.losses.grad_cache`), so peak activation memory stays that of a
    mini-batch whatever ``train.batch_size`` is. Dropout is replayed exactly in the second pass. One process only.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        >>> loss = CachedInfoNCELoss(CachedInfoNCEConfig(name="cached_infonce", mini_batch_size=2), head=head)
        >>> tower = torch.nn.Linear(3, 2)
        >>> loss.step(lambda side, x: tower(x), (torch.randn(8, 3), torch.randn(8, 3))).ndim
        0
    """

    Config = CachedInfoNCEConfig

    def step(self, embed: Callable[[str, Any], torch.Tensor], batch: tuple[Any, ...]) -> torch.Tensor:
        """The batch's loss with the towers run in mini-batches (see :func:`~pairsim.losses.grad_cache.cached_step`)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            raise ConfigError(
                "loss 'cached_infonce' trains on one process; use 'infonce' (gather: true) to spread a batch"
            )
        return cached_step(self, embed, batch, mini_batch_size=self.config.mini_batch_size)
