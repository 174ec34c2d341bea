"""An export-friendly form of the LSTM tower's forward pass (:meth:`~pairsim.towers.lstm.LSTMTower.onnx_graph`).

ONNX exporters cannot trace packed sequences (``pack_padded_sequence``). This module computes the same
embeddings from the tower's own weights without packing: every layer and direction runs as a
unidirectional LSTM over the padded batch, the backward direction over each sequence reversed within its
own length, so no step ever reads padding before a real token. The tests check it against the tower.
"""

from __future__ import annotations

import torch
from torch import nn

from pairsim.towers.token_pooling import token_pooling


def _unidirectional(lstm: nn.LSTM, layer: int, suffix: str, input_size: int) -> nn.LSTM:
    """A one-layer, one-direction LSTM holding the weights of ``lstm``'s layer ``layer`` (direction ``suffix``)."""
    cell = nn.LSTM(input_size, lstm.hidden_size, batch_first=True, bias=lstm.bias)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", *(("bias_ih", "bias_hh") if lstm.bias else ())):
            getattr(cell, f"{name}_l0").copy_(getattr(lstm, f"{name}_l{layer}{suffix}"))
    return cell


class LSTMGraph(nn.Module):
    """``(input_ids (B, T), lengths (B,)) -> (B, out_dim)``, equal to ``tower(batch)`` and traceable.

    Args:
        embedding: The tower's word embedding.
        lstm: The tower's (packed, batch-first) LSTM, whose weights are copied per layer and direction.
        proj: The tower's projection after pooling.
        pooling: The tower's pooling: "last", "mean" or "max".
    """

    input_names = ("input_ids", "lengths")

    def __init__(self, embedding: nn.Module, lstm: nn.LSTM, proj: nn.Module, *, pooling: str) -> None:
        super().__init__()
        self.pooling = pooling
        self.pool = None if pooling == "last" else token_pooling(pooling)  # (B, T, H) -> (B, H), no parameters
        self.bidirectional = lstm.bidirectional
        self.embedding = embedding
        self.proj = proj
        self.cells = nn.ModuleList()
        dirs = 2 if lstm.bidirectional else 1
        for layer in range(lstm.num_layers):
            input_size = lstm.input_size if layer == 0 else lstm.hidden_size * dirs
            for suffix in ("", "_reverse") if lstm.bidirectional else ("",):
                self.cells.append(_unidirectional(lstm, layer, suffix, input_size))

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(input_ids.shape[1], device=input_ids.device)[None]  # (1, T)
        valid = steps < lengths[:, None]  # (B, T)
        reverse = torch.where(valid, lengths[:, None] - 1 - steps, steps)  # (B, T): each sequence flipped in place
        last_step = (lengths - 1)[:, None, None]  # (B, 1, 1)
        x = self.embedding(input_ids)  # (B, T, E)
        dirs = 2 if self.bidirectional else 1
        finals: list[torch.Tensor] = []
        for layer in range(len(self.cells) // dirs):
            out, _ = self.cells[layer * dirs](x)  # (B, T, H)
            outs, finals = [out], [out.gather(1, last_step.expand(-1, 1, out.shape[2])).squeeze(1)]  # (B, H)
            if self.bidirectional:
                flipped = x.gather(1, reverse[..., None].expand_as(x))  # (B, T, in)
                back, _ = self.cells[layer * dirs + 1](flipped)  # (B, T, H), step t = position len-1-t
                finals.append(back.gather(1, last_step.expand(-1, 1, back.shape[2])).squeeze(1))  # (B, H)
                outs.append(back.gather(1, reverse[..., None].expand_as(back)))  # (B, T, H) in text order
            x = torch.cat(outs, dim=-1)  # (B, T, H * dirs)
        if self.pool is None:  # pooling "last": the final hidden states
            return self.proj(torch.cat(finals, dim=-1))  # (B, H * dirs) -> (B, out_dim)
        return self.proj(self.pool(x, valid))  # (B, T, H * dirs), (B, T) -> (B, H * dirs) -> (B, out_dim)
