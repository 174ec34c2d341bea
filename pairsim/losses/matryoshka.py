"""Matryoshka representation learning (Kusupati et al. 2022): one model whose leading dimensions are a model too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from pairsim.config import MAX_DIM, bounded
from pairsim.data.samplers import Consumes
from pairsim.errors import ConfigError
from pairsim.heads.base import Head
from pairsim.losses.base import LOSSES, Loss, LossConfig
from pairsim.losses.grad_cache import cached_step


def _default_inner() -> LossConfig:
    return LOSSES.get("infonce").Config(name="infonce")


@dataclasses.dataclass(kw_only=True)
class MatryoshkaConfig(LossConfig):
    loss: LossConfig = dataclasses.field(default_factory=_default_inner)  # the wrapped embedding loss and its options
    dims: list[int] = bounded(default_factory=lambda: [768, 512, 256, 128, 64], ge=1, le=MAX_DIM)  # leading sizes
    weights: list[float] | None = bounded(None, gt=0)  # one weight per size; None: 1 each

    def check(self) -> None:
        if not self.dims:
            raise ConfigError("loss.dims: expected one or more embedding sizes")
        if len(set(self.dims)) != len(self.dims):
            raise ConfigError(f"loss.dims: sizes must differ, got {self.dims}")
        if self.weights is not None and len(self.weights) != len(self.dims):
            raise ConfigError(
                f"loss.weights: expected {len(self.dims)} weights (one per size), got {len(self.weights)}"
            )
        if self.loss.name == "matryoshka":
            raise ConfigError("loss.loss: a matryoshka loss cannot wrap another matryoshka loss")


@LOSSES.register("matryoshka")
class MatryoshkaLoss(Loss):
    """``sum_k w_k * inner(e[:, :d_k] for every embedding slot, target)``: the wrapped loss on the first ``d_k``
    dimensions of every embedding, for each size ``d_k`` (a size above the embedding size is the full size).
    Trained so, the model can be used at any of those sizes with ``truncate_dim`` (encode, score, galleries,
    export). The wrapped loss keeps its own head, rows and sampler; its parameters (a temperature) are trained.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        >>> inner = LOSSES.get("infonce").Config(name="infonce")
        >>> loss = MatryoshkaLoss(MatryoshkaConfig(name="matryoshka", loss=inner, dims=[4, 2]), head=head)
        >>> loss(torch.eye(4), torch.eye(4)).ndim
        0
    """

    Config = MatryoshkaConfig

    def __init__(self, config: MatryoshkaConfig, *, head: Head) -> None:
        super().__init__(config, head=head)
        self.inner = LOSSES.get(config.loss.name)(config.loss, head=head)
        self.weights = config.weights if config.weights is not None else [1.0] * len(config.dims)

    @property
    def consumes(self) -> Consumes:  # type: ignore[override]
        return self.inner.consumes

    def prepare(self, side_inputs: dict[str, Sequence[Any]]) -> None:
        self.inner.prepare(side_inputs)

    def step(self, embed: Callable[[str, Any], torch.Tensor], batch: tuple[Any, ...]) -> torch.Tensor:
        """As the wrapped loss's step: in GradCache mini-batches when it has a ``mini_batch_size``."""
        size = getattr(self.inner.config, "mini_batch_size", None)
        if size:
            return cached_step(self, embed, batch, mini_batch_size=size)
        return super().step(embed, batch)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Args: one ``(B, D)`` embedding per slot of the wrapped loss's rows, then its target. Returns: scalar."""
        n = len(self.consumes.sides)
        embeddings, rest = inputs[:n], inputs[n:]
        total = embeddings[0].new_zeros(())
        for dim, weight in zip(self.config.dims, self.weights, strict=True):
            total = total + weight * self.inner(*[e[..., :dim] for e in embeddings], *rest)
        return total
