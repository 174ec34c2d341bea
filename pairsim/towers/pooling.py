"""Pooling of image feature maps into one vector per image: the sub-component between a backbone and its projection.

An image tower composes ``backbone (feature maps) -> pooling -> projection``; the pooling is built from the config
once (as timm's ``SelectAdaptivePool2d`` and sentence-transformers' ``Pooling`` module are), not chosen by branches
in the tower's forward. Each pooling says how many features it gives for the channels it is fed
(:meth:`out_features`), so the tower sizes its projection without running the backbone. None of these modules has
parameters: a tower's ``state_dict`` keys do not depend on its pooling.

- :class:`GridPool`: one map ``(B, C, h, w)`` -> the average of each cell of a ``grid x grid`` layout, cell by
  cell ``(B, grid*grid*C)``; ``grid: 1`` is the global average.
- :class:`HeadPool`: a backbone's own pooling, e.g. timm's ``forward_head`` (with any norm after the pooling),
  held by reference so its parameters keep their names under the backbone.
- :class:`StagePool`: several maps (earlier stages first) -> each pooled by its own pooling, concatenated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pairsim.errors import ConfigError


class GridPool(nn.Module):
    """Average-pool a feature map over a ``grid x grid`` layout of cells and concatenate the cells.

    Args:
        grid: Cells per side; 1 is one global average.
        source: What gives the maps, for the error on a map that is not ``(B, C, h, w)`` (e.g. "grid: timm model
            'vit_tiny_patch16_224'").

    Example:
        >>> pool = GridPool(2)
        >>> maps = torch.arange(16.0).view(1, 1, 4, 4)
        >>> pool(maps)  # the four quadrants' means, row by row
        tensor([[ 2.5000,  4.5000, 10.5000, 12.5000]])
        >>> pool.out_features(1280)
        5120
    """

    def __init__(self, grid: int = 1, *, source: str = "grid pooling") -> None:
        super().__init__()
        self.grid = grid
        self.source = source

    def out_features(self, channels: int) -> int:
        """Features per image for maps of ``channels`` channels: ``channels * grid**2``."""
        return channels * self.grid**2

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` -> ``(B, grid*grid*C)``: the average of each grid cell, cell by cell (row-major).

        Raises:
            ConfigError: ``maps`` is not a 4-d map (a vision transformer's tokens, say), naming its shape.
        """
        if maps.dim() != 4:
            raise ConfigError(
                f"{self.source} gives feature maps of shape {tuple(maps.shape)}, expected (batch, channels, height, "
                "width) (a convolutional backbone)"
            )
        if self.grid == 1:
            return maps.mean((2, 3))  # (B, C)
        cells = F.adaptive_avg_pool2d(maps, self.grid)  # (B, C, g, g)
        return cells.permute(0, 2, 3, 1).flatten(1)  # (B, g*g*C)

    def extra_repr(self) -> str:
        return f"grid={self.grid}"


class HeadPool(nn.Module):
    """A backbone's own pooling (timm's ``forward_head``, with any head norm), as a pooling module.

    The function is held, not registered: its parameters stay the backbone's (same ``state_dict`` keys).

    Args:
        head: ``(B, C, h, w)`` -> ``(B, features)``, e.g. ``backbone.forward_head``.
        features: How many features ``head`` gives per image (timm's ``num_features``).
    """

    def __init__(self, head: Callable[[torch.Tensor], torch.Tensor], features: int) -> None:
        super().__init__()
        if isinstance(head, nn.Module):
            raise TypeError("HeadPool: pass the backbone's pooling function (a bound method), not a module")
        self.head = head
        self.features = features

    def out_features(self, channels: int) -> int:
        """Features per image: the head's, whatever the channels."""
        return self.features

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.head(maps)  # (B, C, h, w) -> (B, features)


class StagePool(nn.Module):
    """Pool several feature maps (one per stage, earlier stages first), each with its own pooling, and concatenate.

    Args:
        pools: One pooling module per map, in the order of the maps.

    Example:
        >>> pool = StagePool([GridPool(1), GridPool(2)])
        >>> pool([torch.ones(2, 3, 8, 8), torch.ones(2, 5, 4, 4)]).shape
        torch.Size([2, 23])
        >>> pool.out_features([3, 5])
        23
    """

    def __init__(self, pools: Sequence[nn.Module]) -> None:
        super().__init__()
        self.pools = nn.ModuleList(pools)

    def out_features(self, channels: Sequence[int]) -> int:
        """Features per image for maps of these channel counts: the sum of each pooling's."""
        if len(channels) != len(self.pools):
            raise ValueError(f"StagePool: {len(channels)} channel counts for {len(self.pools)} poolings")
        return sum(pool.out_features(c) for pool, c in zip(self.pools, channels, strict=True))

    def forward(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """``[(B, C_i, h_i, w_i)]`` -> ``(B, sum F_i)``: the pooled maps side by side, earlier stages first."""
        pooled = [pool(m) for pool, m in zip(self.pools, maps, strict=True)]  # [(B, F_i)]
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, 1)  # (B, sum F_i)
