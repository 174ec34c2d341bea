"""A multilayer perceptron over small images or plain vectors: flatten, then Dense layers.

The seeds' MNIST siamese network is this tower at its defaults: ``Flatten``, then 3 x ``Dense(128, relu)``
with ``Dropout(0.1)`` between them (no dropout after the last layer).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pairsim.config import MAX_DIM, MAX_IMAGE_SIDE, MAX_TABLE, bounded
from pairsim.errors import ConfigError, DataError
from pairsim.towers.base import TOWERS, Batch, Features
from pairsim.towers.image import ImageTower, ImageTowerConfig
from pairsim.towers.modality import check_list

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


@dataclasses.dataclass(kw_only=True)
class MLPConfig(ImageTowerConfig):
    input: Literal["image", "vector"] = "image"  # image: any image item, converted and resized; vector: 1-D numbers
    # input: vector: length of each vector (required); image: channels x height x width
    in_dim: int | None = bounded(None, ge=1, le=MAX_DIM)
    hidden: list[int] = bounded(default_factory=lambda: [128, 128], ge=1, le=MAX_DIM)  # Dense sizes before the last
    out_dim: int = bounded(128, ge=1, le=MAX_DIM)  # size of the last Dense layer (the embedding)
    activation: Literal["relu", "gelu", "tanh"] = "relu"  # after every hidden layer
    last_activation: bool = True  # also after the last layer (the seed's network: relu on all three)
    dropout: float = bounded(0.1, ge=0, lt=1)  # after each hidden layer's activation, training only
    channels: int = bounded(1, ge=1, le=3)
    image_size: list[int] = bounded(default_factory=lambda: [28, 28], ge=1, le=MAX_IMAGE_SIDE)  # (height, width)
    # per channel, pixels scaled to [0, 1] first
    mean: list[float] = bounded(default_factory=lambda: [0.0])
    std: list[float] = bounded(default_factory=lambda: [1.0], gt=0)

    def check(self) -> None:
        super().check()
        if self.input == "vector" and self.in_dim is None:
            raise ConfigError("in_dim: input 'vector' needs the vector length (a positive integer), got None")
        if self.input == "vector" and self.mirror_average:
            raise ConfigError("mirror_average: needs input 'image' (a vector has no left and right)")
        layers = [input_size(self), *self.hidden, self.out_dim]
        if any(n * m > MAX_TABLE for n, m in itertools.pairwise(layers)):
            raise ConfigError(f"hidden: layer sizes {layers} give a weight table over {MAX_TABLE} entries")


def input_size(config: MLPConfig) -> int:
    """Number of inputs of the first Dense layer: ``in_dim`` for vectors, ``channels x H x W`` for images."""
    if config.input == "vector":
        return int(config.in_dim or 0)
    return config.channels * config.image_size[0] * config.image_size[1]


def dense_stack(config: MLPConfig) -> nn.Sequential:
    """``Flatten`` then ``Linear -> activation -> Dropout`` per hidden size, then ``Linear(out_dim)``.

    Example:
        >>> dense_stack(MLPConfig(name="mlp", hidden=[4], out_dim=2, image_size=[3, 3]))[1]
        Linear(in_features=9, out_features=4, bias=True)
    """
    act = ACTIVATIONS[config.activation]
    layers: list[nn.Module] = [nn.Flatten()]
    width = input_size(config)
    for size in config.hidden:
        layers += [nn.Linear(width, size), act()]
        if config.dropout:
            layers.append(nn.Dropout(config.dropout))
        width = size
    layers.append(nn.Linear(width, config.out_dim))
    if config.last_activation:
        layers.append(act())
    return nn.Sequential(*layers)


def as_vector(item: Any, length: int) -> torch.Tensor:
    """One item as a float32 vector of ``length`` values.

    Raises:
        DataError: The item is not a sequence of ``length`` numbers; the message gives what it found.
    """
    try:
        vector = torch.as_tensor(np.asarray(item, dtype=np.float32)).reshape(-1)  # (length,)
    except (TypeError, ValueError):
        raise DataError(f"cannot use {type(item).__name__} as a vector; expected {length} numbers") from None
    if vector.numel() != length:
        raise DataError(f"cannot use an input of {vector.numel()} values as a vector; expected {length} (in_dim)")
    return vector


@TOWERS.register("mlp")
class MLPTower(ImageTower):
    """Flatten + Dense layers for small images (paths, PIL images, arrays, tensors) or plain vectors.

    Images go through the image towers' shared preprocessing (convert to ``channels``, resize to
    ``image_size``, scale to [0, 1], normalise) and are flattened; with ``input: vector`` each item is a
    sequence of ``in_dim`` numbers, used as is.

    Example:
        >>> tower = MLPTower(MLPConfig(name="mlp"))
        >>> import numpy as np
        >>> tower(tower.preprocess([np.zeros((28, 28), dtype=np.uint8)])).shape
        torch.Size([1, 128])
    """

    Config = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__(config)
        self.net = dense_stack(config)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim

    def featurize(
        self, items: Sequence[Any], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        if self.config.input == "image":
            return super().featurize(items, train=train, rng=rng)  # {"pixel_values": (C, H, W)}
        return [{"pixel_values": as_vector(item, input_size(self.config))} for item in items]  # (in_dim,)

    def check_items(self, items: Sequence[Any], *, where: str, lines: bool = False) -> None:
        """Images: the image contract (:mod:`.modality`); vectors: each item is ``in_dim`` numbers.

        Raises:
            DataError: The first item that is no such vector, named by position.
        """
        if self.config.input == "image":
            return super().check_items(items, where=where, lines=lines)
        check_list("vector", items, where=where)
        for i, item in enumerate(items):
            try:
                as_vector(item, input_size(self.config))
            except DataError as err:
                raise DataError(f"{where}: {'line' if lines else 'item'} {i + 1}: {err}") from None
        return None

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.encode_pixels(batch["pixel_values"])  # (B, C, H, W) or (B, in_dim) -> (B, out_dim)

    def pixel_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The whole net, which ``mirror_average`` wraps (the MLP has no trunk / rest split)."""
        return self.net(pixels)  # (B, C, H, W) or (B, in_dim) -> (B, out_dim)

    def forward_trunk(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError("the mlp tower has no trunk")
