"""Image backbones from timm (optional extra ``pairsim[timm]``), e.g. EfficientNet-Lite0."""

from __future__ import annotations

import dataclasses

import torch

from pairsim.config import MAX_DIM, bounded
from pairsim.errors import ConfigError
from pairsim.towers.base import TOWERS, Batch
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
            self.feature_dim = int(self.backbone.num_features)
        else:
            try:
                self.backbone = timm.create_model(
                    config.model, pretrained=False, features_only=True, out_indices=(config.stage,)
                )
            except (IndexError, ValueError, RuntimeError, TypeError) as err:
                raise ConfigError(
                    f"stage: {config.stage} is not a feature stage of timm model {config.model!r} ({err})"
                ) from None
            self.feature_dim = int(self.backbone.feature_info.channels()[-1])
        self.proj = projection(self.feature_dim, config.out_dim)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.feature_dim

    def load_pretrained(self) -> None:
        if self.config.weights is None:
            return
        if self.config.weights == "hub":
            pretrained = _timm().create_model(self.config.model, pretrained=True, num_classes=0)
            self.backbone.load_state_dict(pretrained.state_dict())
            return
        load_backbone_weights(self.backbone, self.config.weights, ignore_prefixes=("classifier.", "fc.", "head."))

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.forward_rest(self.forward_trunk(batch))  # (B, out_dim)

    def forward_trunk(self, batch: Batch) -> torch.Tensor:
        if self.config.stage is None:
            return self.backbone(batch["pixel_values"])  # (B, 3, H, W) -> (B, F)
        return self.backbone(batch["pixel_values"])[-1].mean((2, 3))  # (B, F, h, w) -> (B, F)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)  # (B, F) -> (B, out_dim)
