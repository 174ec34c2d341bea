"""Mirror averaging: an image encoder wrapped so that an image and its left-right mirror encode alike."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Encode = Callable[[torch.Tensor], torch.Tensor]  # (B, C, H, W) pixels (or any batch-first tensor) -> (B, F)


class MirrorAverage(nn.Module):
    """``encode`` run on a batch and its left-right flip in one pass, the two outputs averaged.

    The "flip test" of face verification: embeddings that do not change when an image is mirrored, at twice the
    encoding cost. The traced graph fixes no batch size (ONNX exports take any batch).

    Args:
        encode: ``(B, C, H, W)`` -> ``(B, F)``, a function or bound method (e.g. ``tower.trunk_features``). It is held,
            not registered: the parameters it uses keep their names in their owner's ``state_dict``.

    Example:
        >>> mirror = MirrorAverage(lambda x: x[:, 0, 0])  # the first row of pixels
        >>> mirror(torch.tensor([[[[1.0, 2.0, 6.0]]]]))  # averaged with the flipped row [6, 2, 1]
        tensor([[3.5000, 2.0000, 3.5000]])
    """

    def __init__(self, encode: Encode) -> None:
        super().__init__()
        if isinstance(encode, nn.Module):
            raise TypeError("MirrorAverage: pass a function or bound method (e.g. module.forward), not a module")
        self.encode = encode

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, F)``: the mean of ``encode(pixels)`` and ``encode(pixels.flip(-1))``."""
        both = self.encode(torch.cat([pixels, pixels.flip(-1)]))  # (2B, F)
        return both.unflatten(0, (2, -1)).mean(0)  # (2, B, F) -> (B, F); no batch size is fixed in a traced graph


def mirror_averaged(encode: Encode, enabled: bool) -> Encode:
    """``MirrorAverage(encode)`` when ``enabled`` (a tower's ``mirror_average``), else ``encode`` itself.

    Args:
        encode: The function or bound method to wrap.
        enabled: Whether to average with the mirror.

    Returns:
        What the tower calls on its pixels.
    """
    return MirrorAverage(encode) if enabled else encode
