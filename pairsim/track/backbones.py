"""Fully-convolutional towers for tracking: an image ``(B, 3, H, W)`` -> a feature map ``(B, C, H', W')`` with a
known total stride and no padding (so a shift of the input by ``stride`` pixels shifts the map by one cell, the
translation equivariance SiamFC relies on).

``alexnet`` is SiamFC's network (Bertinetto et al. 2016, table 1) with a ``width`` multiplier; ``timm`` takes
the first stages of any timm model through timm's own ``features_only`` extraction, which reports each stage's
reduction (the stride), rather than hand-cut layers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from pairsim.config import ComponentConfig, bounded
from pairsim.errors import ConfigError
from pairsim.registry import Registry

BACKBONES: Registry[type[nn.Module]] = Registry("tracking backbone")
MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics: inputs are RGB in [0, 1], normalised by the backbone
STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(kw_only=True)
class AlexNetConfig(ComponentConfig):
    """SiamFC's AlexNet: 5 convolutions, total stride 8, 6x6 features for a 127x127 exemplar."""

    registry: ClassVar[Any] = BACKBONES
    width: float = bounded(0.5, gt=0, le=2)  # multiplies every layer's channels (1.0: 96-256-384-384-256)


class Backbone(nn.Module):
    """Base of tracking backbones: normalises ``[0, 1]`` RGB input and states ``stride`` and ``out_channels``."""

    stride: int
    out_channels: int

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std  # (B, 3, H, W)


@BACKBONES.register("alexnet")
class AlexNetBackbone(Backbone):
    """SiamFC's AlexNet (no padding; batch norm after each convolution but the last).

    Example:
        >>> net = AlexNetBackbone(AlexNetConfig(name="alexnet", width=0.25))
        >>> net.stride, net(torch.zeros(1, 3, 127, 127)).shape[-1], net(torch.zeros(1, 3, 255, 255)).shape[-1]
        (8, 6, 22)
    """

    Config: ClassVar[type[AlexNetConfig]] = AlexNetConfig

    def __init__(self, config: AlexNetConfig) -> None:
        super().__init__()
        self.config = config
        c = [max(8, round(n * config.width)) for n in (96, 256, 384, 384, 256)]
        c = [n - n % 2 for n in c]  # the grouped layers need even channel counts
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], 11, stride=2), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(c[0], c[1], 5, groups=2), nn.BatchNorm2d(c[1]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(c[1], c[2], 3), nn.BatchNorm2d(c[2]), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, groups=2), nn.BatchNorm2d(c[3]), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, groups=2),
        )  # fmt: skip
        self.stride = 8
        self.out_channels = c[4]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalise(images))  # (B, 3, H, W) -> (B, C, (H - 87) / 8 + 1, ...)


@dataclasses.dataclass(kw_only=True)
class TimmConfig(ComponentConfig):
    """The first stages of a timm model (``features_only``), up to a total stride of ``stride``."""

    registry: ClassVar[Any] = BACKBONES
    model: str = "resnet18"
    stride: int = bounded(8, ge=2, le=32)
    pretrained: str | None = None  # a local weights file (.safetensors), read with timm's own loader


@BACKBONES.register("timm")
class TimmBackbone(Backbone):
    """A timm model's feature stage of the configured stride (timm's ``feature_info`` gives the strides).

    Padded convolutions break exact translation equivariance near the borders; SiamFC-style training on centred
    pairs copes with it (SiamDW and SiamRPN++ discuss the effect).
    """

    Config: ClassVar[type[TimmConfig]] = TimmConfig

    def __init__(self, config: TimmConfig) -> None:
        super().__init__()
        import timm

        self.config = config
        probe = timm.create_model(config.model, pretrained=False, features_only=True)
        reductions = probe.feature_info.reduction()
        if config.stride not in reductions:
            raise ConfigError(f"stride: {config.model} has feature stages of strides {reductions}, got {config.stride}")
        index = reductions.index(config.stride)
        kwargs: dict[str, Any] = {"features_only": True, "out_indices": (index,)}
        if config.pretrained:
            kwargs["pretrained_cfg_overlay"] = {"file": config.pretrained}
        self.net = timm.create_model(config.model, pretrained=bool(config.pretrained), **kwargs)
        self.stride = config.stride
        self.out_channels = self.net.feature_info.channels()[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalise(images))[-1]  # (B, 3, H, W) -> (B, C, H / stride, W / stride)
