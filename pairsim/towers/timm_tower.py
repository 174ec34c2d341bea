"""Image backbones from timm (optional extra ``pairsim[timm]``), e.g. EfficientNet-Lite0."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from pairsim.config import MAX_DIM, bounded
from pairsim.errors import ConfigError
from pairsim.towers.base import TOWERS
from pairsim.towers.image import ImageTower, ImageTowerConfig
from pairsim.towers.pooling import GridPool, HeadPool, StagePool
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


def _grid(config: TimmConfig) -> GridPool:
    """The pooling of one feature map: ``grid x grid`` cell averages (1: the global average)."""
    return GridPool(config.grid, source=f"grid / concat_stages: timm model {config.model!r}")


@TOWERS.register("timm")
class TimmTower(ImageTower):
    """A timm backbone without its classifier, a pooling of its feature maps, and an optional projection.

    ``backbone`` (feature maps: ``concat_stages``, then ``stage`` or the top) -> ``pool``
    (:mod:`pairsim.towers.pooling`: each map's ``grid x grid`` cell averages, or timm's own head pooling for the
    whole network's top map at ``grid: 1``; concatenated) -> ``proj``.

    Example:
        >>> tower = TimmTower(TimmConfig(name="timm", out_dim=8, image_size=[64, 64]))
        >>> tower(tower.preprocess([torch.rand(3, 64, 64)])).shape
        torch.Size([1, 8])
    """

    Config = TimmConfig
    trunk = "backbone"
    channels_last = True

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
            # the top map as timm pools it (with any head norm, e.g. ConvNeXt's), unless it is cut into a grid
            top = HeadPool(self.backbone.forward_head, channels[-1]) if config.grid == 1 else _grid(config)
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
            top = _grid(config)
        # [(B, C_i, h_i, w_i)] -> (B, feature_dim): concat_stages' maps, then the last; no parameters
        self.pool = StagePool([*(_grid(config) for _ in config.concat_stages), top])
        self.feature_dim = self.pool.out_features(channels)
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
        return self.pool(self.feature_maps(pixels))  # [(B, C_i, h_i, w_i)] -> (B, feature_dim)

    def feature_maps(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` -> the maps :attr:`pool` takes: ``[(B, C_i, h_i, w_i)]``, ``concat_stages`` then the last
        (``stage``, or the whole network's top map before timm's head)."""
        if self.config.stage is not None:
            return self.backbone(pixels)  # a features_only backbone: concat_stages, then stage
        if self.config.concat_stages:
            top, earlier = self.backbone.forward_intermediates(pixels, indices=self.config.concat_stages, norm=False)
            return [*earlier, top]
        return [self.backbone.forward_features(pixels)]  # [(B, F, h, w)]

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)  # (B, F) -> (B, out_dim)
