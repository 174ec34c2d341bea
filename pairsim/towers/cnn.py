"""Small convnets trained from scratch: Koch et al.'s one-shot convnet, the face-similarity tutorial's CNN and
Snell et al.'s Conv-4 (prototypical networks)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
from torch import nn

from pairsim.config import MAX_DIM, MAX_IMAGE_SIDE, MAX_TABLE, bounded
from pairsim.errors import ConfigError
from pairsim.towers.base import TOWERS
from pairsim.towers.image import ImageTower, ImageTowerConfig


@dataclasses.dataclass(kw_only=True)
class CNNConfig(ImageTowerConfig):
    # koch: Koch et al. 2015; face: the PyTorch face-similarity tutorial; conv4: Snell et al. 2017
    arch: Literal["koch", "face", "conv4"] = "koch"
    width: float = bounded(1.0, gt=0, le=16)  # multiplies every layer's channel count (0.25 for a quick model)
    # koch: units of the sigmoid layer (4096 in the paper); face: last layer (5 in the tutorial);
    # conv4: linear projection, 0: none (the flattened 64-d features at 28x28), as for torchvision/timm towers
    out_dim: int = bounded(4096, ge=0, le=MAX_DIM)
    dropout: float = bounded(0.2, ge=0, lt=1)  # face: Dropout2d after each conv block
    channels: int = bounded(1, ge=1, le=3)
    image_size: list[int] = bounded(default_factory=lambda: [105, 105], ge=1, le=MAX_IMAGE_SIDE)
    mean: list[float] = bounded(default_factory=lambda: [0.0])
    std: list[float] = bounded(default_factory=lambda: [1.0], gt=0)

    def check(self) -> None:
        """Refuse sizes whose activations or projection would not fit in memory, before allocating anything."""
        super().check()
        if self.out_dim == 0 and self.arch != "conv4":
            raise ConfigError(f"out_dim: expected an integer in [1, {MAX_DIM}] for arch {self.arch!r}, got 0")
        with torch.device("meta"):  # the layers' parameters: no memory is allocated
            layers = _ARCHS[self.arch](self)
        shape: tuple[int, ...] = (1, self.channels, *self.image_size)  # (1, C, H, W)
        largest = math.prod(shape)
        try:
            for layer in layers:
                shape = _shape_after(layer, shape)
                largest = max(largest, math.prod(shape))
        except RuntimeError:
            return  # too small for the arch: CNNTower says so, with the smallest size
        size = f"image_size {self.image_size} at width {self.width:g}"
        if largest > MAX_TABLE:
            raise ConfigError(
                f"{size} needs {largest} activations per image in one layer; expected at most {MAX_TABLE}"
            )
        if shape[1] * (self.out_dim or 1) > MAX_TABLE:
            raise ConfigError(
                f"{size} gives {shape[1]} features per image, a projection of {shape[1]} x {self.out_dim} "
                f"weights; expected at most {MAX_TABLE} (reduce image_size, width or out_dim)"
            )


def _koch(c: CNNConfig) -> nn.Sequential:
    w = lambda n: max(1, round(n * c.width))  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(c.channels, w(64), 10), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 64@10x10
        nn.Conv2d(w(64), w(128), 7), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 128@7x7
        nn.Conv2d(w(128), w(128), 4), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 128@4x4
        nn.Conv2d(w(128), w(256), 4), nn.ReLU(inplace=True),  # 256@4x4
        nn.Flatten(),
    )  # fmt: skip


def _conv4(c: CNNConfig) -> nn.Sequential:
    w = max(1, round(64 * c.width))
    blocks: list[nn.Module] = []
    for cin in (c.channels, w, w, w):  # 3x3 conv, batch norm, ReLU, 2x2 max-pool: 28x28 -> 14 -> 7 -> 3 -> 1
        blocks += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*blocks, nn.Flatten())


def _face(c: CNNConfig) -> nn.Sequential:
    w = lambda n: max(1, round(n * c.width))  # noqa: E731
    layers: list[nn.Module] = []
    for cin, cout in [(c.channels, w(4)), (w(4), w(8)), (w(8), w(8))]:
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(cin, cout, 3),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(cout),
        ]
        layers.append(nn.Dropout2d(c.dropout))
    return nn.Sequential(*layers, nn.Flatten())


# layers whose output has their input's shape: the size check in CNNConfig.check skips them
_SAME_SHAPE = (nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.ReLU, nn.Sigmoid)


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _shape_after(layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``layer``'s output for an input of ``shape``, by arithmetic: running the layers on meta tensors
    would say the same, but imports torch._dynamo and sympy (seconds at start-up) to say it.

    Raises:
        RuntimeError: The input is too small for the layer (as ``layer(x)`` would raise).
    """
    if isinstance(layer, _SAME_SHAPE):
        return shape
    if isinstance(layer, nn.Flatten):
        return (shape[0], math.prod(shape[1:]))
    batch, channels, height, width = shape
    if isinstance(layer, nn.ReflectionPad2d):
        left, right, top, bottom = layer.padding
        if max(left, right) >= width or max(top, bottom) >= height:
            raise RuntimeError("padding should be smaller than the input")
        return (batch, channels, height + top + bottom, width + left + right)
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        kernel, stride, pad, dilation = (
            _pair(getattr(layer, k)) for k in ("kernel_size", "stride", "padding", "dilation")
        )
        if isinstance(layer, nn.MaxPool2d) and layer.ceil_mode:
            raise NotImplementedError("ceil_mode pooling")  # no arch uses it
        out = [
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip((height, width), kernel, stride, pad, dilation, strict=True)
        ]
        if min(out) < 1:
            raise RuntimeError("input too small for the layer")
        return (batch, layer.out_channels if isinstance(layer, nn.Conv2d) else channels, out[0], out[1])
    raise NotImplementedError(f"no shape rule for {type(layer).__name__}")  # a new arch's layer: add its rule


_ARCHS = {"koch": _koch, "face": _face, "conv4": _conv4}  # arch name -> its feature extractor


@TOWERS.register("cnn")
class CNNTower(ImageTower):
    """A convnet for small grayscale images.

    ``arch: koch`` is the siamese convnet of Koch et al. 2015 for 105x105 Omniglot characters: conv
    64@10x10, 128@7x7, 128@4x4 with max-pooling, 256@4x4, then a sigmoid layer of ``out_dim`` (4096)
    units. ``arch: conv4`` is Snell et al.'s (2017) prototypical-network embedding for 28x28 characters:
    four blocks of 64 3x3 filters, batch norm, ReLU and 2x2 max-pooling, flattened (64-d at 28x28), then a
    linear projection to ``out_dim`` unless it is 0. ``arch: face`` is the PyTorch face-similarity tutorial's
    net for 100x100 faces: three reflection-padded 3x3 conv blocks with ReLU, BatchNorm and dropout, then
    500-500-``out_dim`` fully connected layers. ``width`` scales every layer; ``image_size`` may differ from the papers'.

    Example:
        >>> tower = CNNTower(CNNConfig(name="cnn", width=0.25, out_dim=32, image_size=[72, 72]))
        >>> tower.preprocess([torch.zeros(72, 72)])["pixel_values"].shape
        torch.Size([1, 1, 72, 72])
        >>> tower(tower.preprocess([torch.zeros(72, 72)])).shape
        torch.Size([1, 32])
    """

    Config = CNNConfig
    trunk = "features"

    def __init__(self, config: CNNConfig) -> None:
        super().__init__(config)
        self.features = _ARCHS[config.arch](config)
        try:
            with torch.no_grad():
                flat = self.features(torch.zeros(1, config.channels, *config.image_size)).shape[1]
        except RuntimeError:
            smallest = {"koch": "65x65", "face": "2x2", "conv4": "16x16"}[config.arch]
            raise ConfigError(
                f"image_size {config.image_size} is too small for arch {config.arch!r} (at least {smallest})"
            ) from None
        self._out_dim = config.out_dim or flat
        if config.arch == "conv4":
            self.fc: nn.Module = nn.Linear(flat, config.out_dim) if config.out_dim else nn.Identity()
        elif config.arch == "koch":
            self.fc = nn.Sequential(nn.Linear(flat, config.out_dim), nn.Sigmoid())
        else:
            hidden = max(1, round(500 * config.width))
            self.fc = nn.Sequential(
                nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, config.out_dim),
            )  # fmt: skip

    @property
    def out_dim(self) -> int:
        return self._out_dim

    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features(pixels)  # (B, C, H, W) -> (B, F)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)  # (B, F) -> (B, out_dim)
