"""Losses: embeddings (or scores) and labels -> a scalar. **Label 1 = similar** everywhere.

A loss is built with the model's head and asks it for direction (``higher_is_similar``, ``margin()``,
``best``) instead of checking the head's type, so every loss works with every head that makes sense
for it. Losses take tensors, not the model, so they can be tested with hand-made tensors.

Each loss declares the rows it consumes as :attr:`Loss.consumes` (a :class:`~pairsim.data.samplers.Consumes`):
the side of each slot, the target type and its default sampler. ``forward`` takes one ``(B, D)`` embedding per
slot, then the target if there is one, e.g.:

* ``Consumes(("a", "b"), "binary")``: ``forward(a, b, labels)`` with ``labels: (B,)`` in {0, 1};
* ``Consumes(("a", "b", "b"), sampler="triplets")``: ``forward(anchor, positive, negative)``;
* ``Consumes(("a",), "class", sampler="pk")``: ``forward(embeddings, class_labels)``;
* ``Consumes(("a", "b"), sampler="aligned")``: ``forward(a, b)``, ``a[i]`` matches ``b[i]`` only;
* ``Consumes(("a",), "episode", sampler="episodes")``: ``forward(embeddings, (way, is_query))``;
* ``Consumes(("a", "b", "b", "b"), "keys", sampler="hard_negatives")``: ``forward(anchor, positive, neg_1,
  neg_2, keys)`` with ``keys: (B, S, 2)`` each slot's key id and item index.

The training step calls :meth:`Loss.step` with the tower function and the batch; a loss that must run the towers
itself (GradCache's two passes, :mod:`pairsim.losses.grad_cache`) overrides it. Before training the trainer
calls :meth:`Loss.prepare` with the items of each side (a guide model embeds them there once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from pairsim.config import ComponentConfig
from pairsim.data.samplers import Consumes
from pairsim.errors import ConfigError
from pairsim.heads.base import Head
from pairsim.registry import Registry

LOSSES: Registry[type[Loss]] = Registry("loss")


@dataclasses.dataclass(kw_only=True)
class LossConfig(ComponentConfig):
    registry: ClassVar[Any] = LOSSES


class Loss(nn.Module):
    """Base class of losses.

    Args:
        config: The loss's config.
        head: The model's head; kept as a plain reference (not a sub-module), so its parameters stay
            the model's.
    """

    Config: ClassVar[type[LossConfig]] = LossConfig
    consumes: ClassVar[Consumes] = Consumes(("a", "b"), "binary", sampler="pairs")
    # "scores": the loss reads only the head's score of each pair (``head(a, b)``, ``head.logit_of``), so a
    # cross-encoder (one score per pair, no embeddings) trains with it; "embeddings": it computes with the vectors
    reads: ClassVar[str] = "embeddings"

    def __init__(self, config: LossConfig, *, head: Head) -> None:
        super().__init__()
        self.config = config
        self.__dict__["head"] = head  # not registered: the head belongs to the model
        if head.reads == "tokens" and self.reads != "scores":
            raise ConfigError(
                f"loss {config.name!r} computes with embeddings, but the {head.config.name} head gives one score per "
                "pair and no embeddings; use a loss on pair scores (bce, mse, cosent, listwise)"
            )

    @property
    def head(self) -> Head:
        return self.__dict__["head"]

    def _require(self, ok: bool, why: str) -> None:
        if not ok:
            raise ConfigError(f"loss {self.config.name!r} cannot be used with head {self.head.config.name!r}: {why}")

    def step(self, embed: Callable[[str, Any], torch.Tensor], batch: tuple[Any, ...]) -> torch.Tensor:
        """The loss of one batch: each slot's inputs through ``embed(side, inputs) -> (B, D)``, then the target.

        Args:
            embed: The tower of a side applied to a slot's preprocessed batch.
            batch: One batch of :class:`~pairsim.data.pipeline.Batches`: a batch per slot, then the target.

        Returns:
            The scalar loss.
        """
        sides = self.consumes.sides
        return self(*[embed(s, x) for s, x in zip(sides, batch[: len(sides)], strict=True)], *batch[len(sides) :])

    def prepare(self, side_inputs: dict[str, Sequence[Any]]) -> None:
        """Called once before training with ``{side: items}`` (what a slot's item indices point into); nothing
        by default."""
