"""Map heads: an exemplar's feature map and a search region's feature map -> a response map.

A vector head (:mod:`pairsim.heads`) scores two pooled embeddings; a map head keeps the spatial layout, so its
contract differs and it has its own registry, named like every other (``MAP_HEADS.get("xcorr")``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from pairsim.config import ComponentConfig, bounded
from pairsim.registry import Registry

MAP_HEADS: Registry[type[nn.Module]] = Registry("map head")


@dataclasses.dataclass(kw_only=True)
class XCorrConfig(ComponentConfig):
    """Config of the cross-correlation head."""

    registry: ClassVar[Any] = MAP_HEADS
    init_scale: float = bounded(1e-3, gt=0)  # SiamFC's 0.001: keeps the first logits small
    init_bias: float = bounded(0.0)


@MAP_HEADS.register("xcorr")
class XCorrHead(nn.Module):
    """Cross-correlation of an exemplar's features over a search region's, with a learned scale and bias.

    Each exemplar map slides over its own search map (one grouped convolution for the whole batch); a single
    exemplar may also be scored against several search maps (a scale pyramid).

    Args:
        config: The head's config.

    Example:
        >>> head = XCorrHead(XCorrConfig(name="xcorr"))
        >>> head(torch.ones(2, 4, 3, 3), torch.ones(2, 4, 7, 7)).shape
        torch.Size([2, 1, 5, 5])
    """

    Config: ClassVar[type[XCorrConfig]] = XCorrConfig

    def __init__(self, config: XCorrConfig) -> None:
        super().__init__()
        self.config = config
        self.scale = nn.Parameter(torch.tensor(float(config.init_scale)))
        self.bias = nn.Parameter(torch.tensor(float(config.init_bias)))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Response maps.

        Args:
            z: ``(B, C, Hz, Wz)`` exemplar features, or ``(1, C, Hz, Wz)`` for one exemplar over every ``x``.
            x: ``(B, C, Hx, Wx)`` search features, ``Hx >= Hz``, ``Wx >= Wz``.

        Returns:
            ``(B, 1, Hx - Hz + 1, Wx - Wz + 1)`` logits: higher means the exemplar is there.
        """
        b, c, hx, wx = x.shape
        if z.shape[0] == 1 and b > 1:
            out = F.conv2d(x, z)  # (B, 1, Ho, Wo): one filter over every search map
        else:
            out = F.conv2d(x.reshape(1, b * c, hx, wx), z, groups=b)  # (1, B, Ho, Wo)
            out = out.reshape(b, 1, *out.shape[-2:])  # (B, 1, Ho, Wo)
        return self.scale * out + self.bias
