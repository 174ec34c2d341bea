"""Any torchvision classification backbone, its classifier replaced by a projection."""

from __future__ import annotations

import dataclasses

import torch
import torchvision
from torch import nn

from pairsim.config import MAX_DIM, bounded
from pairsim.errors import ConfigError
from pairsim.towers.base import TOWERS
from pairsim.towers.image import ImageTower, ImageTowerConfig
from pairsim.towers.weights import load_backbone_weights, projection


@dataclasses.dataclass(kw_only=True)
class TorchvisionConfig(ImageTowerConfig):
    model: str = "resnet18"  # any name of torchvision.models.list_models(module=torchvision.models)
    weights: str | None = None  # a local .pth / .safetensors file, or a torchvision weights enum name such as
    #                             "IMAGENET1K_V1" (downloaded by torchvision: online only); None: random init
    out_dim: int = bounded(128, ge=0, le=MAX_DIM)  # projection size; 0 keeps the backbone's feature size

    def check(self) -> None:
        super().check()
        if self.model not in torchvision.models.list_models(module=torchvision.models):
            raise ConfigError(f"model: unknown torchvision model {self.model!r}; e.g. resnet18, efficientnet_b0")


def _strip_classifier(net: nn.Module) -> tuple[str, int]:
    """Replace the last ``nn.Linear`` with the identity; return its dotted name and input size."""
    last = None
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            last = (name, module)
    if last is None:
        raise ConfigError(f"{type(net).__name__} has no linear classifier to replace")
    name, linear = last
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    setattr(parent, name.rpartition(".")[2], nn.Identity())
    return name, linear.in_features


@TOWERS.register("torchvision")
class TorchvisionTower(ImageTower):
    """A torchvision backbone (resnet18, efficientnet_b0, ...) with its classifier replaced by ``out_dim``.

    Weights come only from :meth:`load_pretrained`, from a local file or (online) a torchvision weights
    name; building the tower never downloads.

    Example:
        >>> tower = TorchvisionTower(TorchvisionConfig(name="torchvision", model="resnet18", out_dim=16))
        >>> tower(tower.preprocess([torch.rand(3, 64, 64)])).shape
        torch.Size([1, 16])
    """

    Config = TorchvisionConfig
    trunk = "backbone"

    def __init__(self, config: TorchvisionConfig) -> None:
        super().__init__(config)
        self.backbone = torchvision.models.get_model(config.model, weights=None)
        self._classifier, self.feature_dim = _strip_classifier(self.backbone)
        self.proj = projection(self.feature_dim, config.out_dim)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.feature_dim

    def fittable_projection(self) -> nn.Module:
        return self.proj  # (B, feature_dim) -> (B, out_dim), or the identity without out_dim

    def load_pretrained(self) -> None:
        weights = self.config.weights
        if weights is None:
            return
        if weights.endswith((".pth", ".pt", ".safetensors")):
            load_backbone_weights(self.backbone, weights, ignore_prefixes=(self._classifier + ".",))
            return
        enum = torchvision.models.get_model_weights(self.config.model)
        state = enum[weights].get_state_dict(progress=False)  # online: torchvision downloads and caches
        state = {k: v for k, v in state.items() if not k.startswith(self._classifier + ".")}
        self.backbone.load_state_dict(state, strict=True)

    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(pixels)  # (B, 3, H, W) -> (B, F)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)  # (B, F) -> (B, out_dim)
