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
        self.backbone = timm.create_model(config.model, pretrained=False, num_classes=0)
        self.proj = projection(self.backbone.num_features, config.out_dim)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.backbone.num_features

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
        return self.backbone(batch["pixel_values"])  # (B, 3, H, W) -> (B, F)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)  # (B, F) -> (B, out_dim)
