"""Tests of pairsim.train.optim's fused Adam / AdamW choice."""

from __future__ import annotations

import torch
from torch import nn

from pairsim.train.optim import fusable


def test_fused_only_for_contiguous_float_parameters() -> None:
    linear = nn.Linear(4, 3)
    assert fusable([{"params": list(linear.parameters())}])
    conv = nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)  # train.speed.channels_last
    assert not fusable([{"params": list(linear.parameters())}, {"params": list(conv.parameters())}])
    assert not fusable([{"params": [nn.Parameter(torch.zeros(3, dtype=torch.long), requires_grad=False)]}])
    assert not fusable([])


def test_fused_adamw_steps_as_the_loop_does() -> None:
    """The fused kernel is the same update (to float rounding) as the per-parameter loop."""
    torch.manual_seed(0)
    a, b = nn.Linear(16, 4), nn.Linear(16, 4)
    b.load_state_dict(a.state_dict())
    opts = [torch.optim.AdamW(a.parameters(), lr=0.01), torch.optim.AdamW(b.parameters(), lr=0.01, fused=True)]
    for i in range(5):
        x = torch.randn(8, 16, generator=torch.Generator().manual_seed(i))
        for model, opt in zip((a, b), opts, strict=True):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
