"""Losses: embeddings (or scores) and labels -> a scalar. **Label 1 = similar** everywhere.

A loss is built with the model's head and asks it for direction (``higher_is_similar``, ``margin()``,
``best``) instead of checking the head's type, so every loss works with every head that makes sense
for it. Losses take tensors, not the model, so they can be tested with hand-made tensors.

Each loss declares the batches it needs as :attr:`Loss.input_kind`:

* ``"pairs"``: ``forward(a, b, labels)`` with ``a, b: (B, D)`` and ``labels: (B,)`` in {0, 1};
* ``"triplets"``: ``forward(anchor, positive, negative)``, each ``(B, D)``;
* ``"classes"``: ``forward(embeddings, class_labels)`` with ``(B, D)`` and ``(B,)`` class ids;
* ``"aligned"``: ``forward(a, b)`` where ``a[i]`` matches ``b[i]`` and every other row is a negative.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

from torch import nn

from pairsim.config import ComponentConfig
from pairsim.errors import ConfigError
from pairsim.heads.base import Head
from pairsim.registry import Registry

LOSSES: Registry[type[Loss]] = Registry("loss")
InputKind = Literal["pairs", "triplets", "classes", "aligned"]


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
    input_kind: InputKind = "pairs"
    target: ClassVar[Literal["label", "score"]] = "label"  # "pairs" targets: 0/1 labels, or graded scores if any

    def __init__(self, config: LossConfig, *, head: Head) -> None:
        super().__init__()
        self.config = config
        self.__dict__["head"] = head  # not registered: the head belongs to the model

    @property
    def head(self) -> Head:
        return self.__dict__["head"]

    def _require(self, ok: bool, why: str) -> None:
        if not ok:
            raise ConfigError(f"loss {self.config.name!r} cannot be used with head {self.head.config.name!r}: {why}")
