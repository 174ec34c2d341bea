"""Pooling of token (or time-step) vectors into one vector per text: the sub-component between a text encoder and
its projection, as sentence-transformers' ``Pooling`` module is.

Each pooling maps ``hidden (B, T, H)`` and ``mask (B, T)`` (nonzero at real tokens, zero at padding) to ``(B, H)``
and has no parameters; a tower picks one by name (its config's ``pooling``) with :func:`token_pooling`.
"""

from __future__ import annotations

import torch
from torch import nn

from pairsim.errors import ConfigError


class MeanTokens(nn.Module):
    """The mean of the real tokens' vectors (a text without any gives zeros).

    Example:
        >>> hidden = torch.tensor([[[1.0], [3.0], [100.0]]])  # (1, 3, 1), the last token is padding
        >>> MeanTokens()(hidden, torch.tensor([[1, 1, 0]]))
        tensor([[2.]])
    """

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[..., None].to(hidden.dtype)  # (B, T, 1)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, H)


class MaxTokens(nn.Module):
    """The largest value of each feature over the real tokens."""

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        padding = ~mask[..., None].bool()  # (B, T, 1)
        return hidden.masked_fill(padding, torch.finfo(hidden.dtype).min).max(1).values  # (B, H)


class FirstToken(nn.Module):
    """The first token's vector (BERT's ``[CLS]``)."""

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return hidden[:, 0]  # (B, H)


TOKEN_POOLINGS: dict[str, type[nn.Module]] = {"mean": MeanTokens, "max": MaxTokens, "cls": FirstToken}


def token_pooling(name: str) -> nn.Module:
    """The pooling called ``name`` (``mean``, ``max`` or ``cls``).

    Raises:
        ConfigError: ``name`` is none of them.
    """
    if name not in TOKEN_POOLINGS:
        raise ConfigError(f"pooling: expected one of {', '.join(TOKEN_POOLINGS)}, got {name!r}")
    return TOKEN_POOLINGS[name]()
