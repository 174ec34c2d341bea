"""The cross-correlation head: its response map equals a direct sliding-window computation."""

from __future__ import annotations

import pytest
import torch

from pairsim.errors import ConfigError
from pairsim.track.heads import MAP_HEADS, XCorrConfig, XCorrHead


def sliding_window(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(C, hz, wz), (C, hx, wx) -> (hx - hz + 1, wx - wz + 1)``: the dot product of z with each window of x."""
    hz, wz = z.shape[-2:]
    rows, cols = x.shape[-2] - hz + 1, x.shape[-1] - wz + 1
    out = torch.empty(rows, cols, dtype=torch.float64)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = (z.double() * x[:, i : i + hz, j : j + wz].double()).sum()
    return out


def test_batched_response_equals_sliding_window() -> None:
    g = torch.Generator().manual_seed(0)
    head = XCorrHead(XCorrConfig(name="xcorr", init_scale=0.5, init_bias=-0.25))
    z, x = torch.randn(3, 4, 3, 2, generator=g), torch.randn(3, 4, 7, 6, generator=g)
    out = head(z, x)
    assert out.shape == (3, 1, 5, 5)
    for b in range(3):  # each exemplar over its own search map only
        expected = 0.5 * sliding_window(z[b], x[b]) - 0.25
        torch.testing.assert_close(out[b, 0].double(), expected, rtol=1e-5, atol=1e-5)


def test_one_exemplar_over_several_search_maps() -> None:
    g = torch.Generator().manual_seed(1)
    head = XCorrHead(XCorrConfig(name="xcorr", init_scale=2.0))
    z, x = torch.randn(1, 5, 3, 3, generator=g), torch.randn(4, 5, 9, 9, generator=g)
    out = head(z, x)
    assert out.shape == (4, 1, 7, 7)
    for b in range(4):  # a scale pyramid: the same exemplar over every map
        torch.testing.assert_close(out[b, 0].double(), 2.0 * sliding_window(z[0], x[b]), rtol=1e-5, atol=1e-5)


def test_scale_and_bias_learn() -> None:
    head = XCorrHead(XCorrConfig(name="xcorr"))
    z, x = torch.randn(2, 3, 2, 2, requires_grad=True), torch.randn(2, 3, 5, 5, requires_grad=True)
    head(z, x).sum().backward()
    assert head.scale.grad is not None and head.scale.grad.abs() > 0 and head.bias.grad == 2 * 16
    assert z.grad is not None and x.grad is not None


def test_registered_by_name_and_unknown_names_listed() -> None:
    assert MAP_HEADS.get("xcorr") is XCorrHead
    with pytest.raises(ConfigError, match="valid map heads: xcorr"):
        MAP_HEADS.get("corr")
