"""Image backbones from timm (optional extra ``pairsim[timm]``), e.g. EfficientNet-Lite0."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from pairsim.config import MAX_DIM, bounded
from pairsim.errors import ConfigError
from pairsim.towers.base import TOWERS
from pairsim.towers.image import ImageTower, ImageTowerConfig
from pairsim.towers.weights import load_backbone_weights, projection


def _timm():
    try:
        import timm
    except ImportError:
        raise ConfigError("tower 'timm' needs the timm package: pip install 'pairsim[timm]'") from None
    return timm


@dataclasses.dataclass(kw_only=True)
class TimmConfig(ImageTowerConfig):
    model: str = "efficientnet_lite0"  # a timm model name
    weights: str | None = None  # a local .safetensors / .pth file with timm's key names, or "hub" to let timm
    #                             download its pretrained weights (online only); None: random init
    # projection size; 0 keeps the backbone's pooled feature size (1280 for EfficientNet-Lite0)
    out_dim: int = bounded(0, ge=0, le=MAX_DIM)
    # use the backbone only up to this feature stage (timm's features_only out_indices; EfficientNet-Lite0 has 0-4,
    # stage 3 = stride 16, 112 channels), average-pooled: mid-level features that transfer further from ImageNet
    # (faces, textures); None: the whole network's pooled features
    stage: int | None = bounded(None, ge=0, le=16)
    # average-pool each feature map (the last, and any concat_stages) over a grid x grid layout of cells and
    # concatenate the cells (channels x grid**2 features, cell by cell): for aligned images (faces, signatures)
    # where a feature's place matters (convolutional backbones; before any head norm); 1: one global average
    grid: int = bounded(1, ge=1, le=8)
    # also average-pool the outputs of these earlier feature stages and put them before the features (several
    # scales: textures and parts beside whole objects; [3, 4] adds EfficientNet-Lite0's 112- and 320-channel
    # stages to its 1280 top features); []: none
    concat_stages: list[int] = bounded(default_factory=list, ge=0, le=16)

    def check(self) -> None:
        super().check()
        stages = self.concat_stages
        if stages != sorted(set(stages)) or (self.stage is not None and stages and stages[-1] >= self.stage):
            below = f" below stage {self.stage}" if self.stage is not None else ""
            raise ConfigError(f"concat_stages: expected distinct stages in increasing order{below}, got {stages}")


@TOWERS.register("timm")
class TimmTower(ImageTower):
    """A timm backbone with global pooling and no classifier, plus an optional projection.

    Example:
        >>> tower = TimmTower(TimmConfig(name="timm", out_dim=8, image_size=[64, 64]))
        >>> tower(tower.preprocess([torch.rand(3, 64, 64)])).shape
        torch.Size([1, 8])
    """

    Config = TimmConfig
    trunk = "backbone"

    def __init__(self, config: TimmConfig) -> None:
        super().__init__(config)
        timm = _timm()
        if not timm.is_model(config.model):
            raise ConfigError(f"model: unknown timm model {config.model!r}")
        if config.stage is None:
            self.backbone = timm.create_model(config.model, pretrained=False, num_classes=0)
            info = self.backbone.feature_info
            if config.concat_stages and not hasattr(self.backbone, "forward_intermediates"):
                raise ConfigError(f"concat_stages: timm model {config.model!r} cannot return earlier stages")
            if config.concat_stages and config.concat_stages[-1] >= len(info):
                raise ConfigError(
                    f"concat_stages: {config.concat_stages[-1]} is not a feature stage of timm model "
                    f"{config.model!r}; expected 0..{len(info) - 1}"
                )
            channels = [int(info[i]["num_chs"]) for i in config.concat_stages] + [int(self.backbone.num_features)]
        else:
            try:
                self.backbone = timm.create_model(
                    config.model,
                    pretrained=False,
                    features_only=True,
                    out_indices=(*config.concat_stages, config.stage),
                )
            except (IndexError, ValueError, RuntimeError, TypeError) as err:
                raise ConfigError(
                    f"stage: {config.stage} is not a feature stage of timm model {config.model!r} ({err})"
                ) from None
            channels = [int(c) for c in self.backbone.feature_info.channels()]
        self.feature_dim = sum(channels) * config.grid**2
        self.proj = projection(self.feature_dim, config.out_dim)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.feature_dim

    def fittable_projection(self) -> nn.Module:
        return self.proj  # (B, feature_dim) -> (B, out_dim), or the identity without out_dim

    def load_pretrained(self) -> None:
        if self.config.weights is None:
            return
        if self.config.weights == "hub":
            pretrained = _timm().create_model(self.config.model, pretrained=True, num_classes=0)
            self.backbone.load_state_dict(pretrained.state_dict())
            return
        load_backbone_weights(self.backbone, self.config.weights, ignore_prefixes=("classifier.", "fc.", "head."))

    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, feature_dim)``: the pooled maps of ``concat_stages`` and the last stage."""
        cfg = self.config
        if cfg.stage is not None:
            maps = self.backbone(pixels)  # [(B, C_i, h_i, w_i)]: concat_stages, then stage
        elif cfg.concat_stages:
            top, earlier = self.backbone.forward_intermediates(pixels, indices=cfg.concat_stages, norm=False)
            if cfg.grid == 1:  # the top features as timm pools them (with any head norm), as without concat_stages
                return torch.cat([*(self._pool(m) for m in earlier), self.backbone.forward_head(top)], 1)
            maps = [*earlier, top]
        elif cfg.grid == 1:
            return self.backbone(pixels)  # (B, F): timm's own global pooling
        else:
            maps = [self.backbone.forward_features(pixels)]  # [(B, F, h, w)]
        return torch.cat([self._pool(m) for m in maps], 1)  # (B, feature_dim)

    def _pool(self, maps: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` -> ``(B, grid*grid*C)``: the average of each grid cell, cell by cell."""
        if maps.dim() != 4:
            raise ConfigError(
                f"grid / concat_stages: timm model {self.config.model!r} gives feature maps of shape "
                f"{tuple(maps.shape)}, expected (batch, channels, height, width) (a convolutional backbone)"
            )
        if self.config.grid == 1:
            return maps.mean((2, 3))  # (B, C)
        cells = F.adaptive_avg_pool2d(maps, self.config.grid)  # (B, C, g, g)
        return cells.permute(0, 2, 3, 1).flatten(1)  # (B, g*g*C)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)  # (B, F) -> (B, out_dim)
