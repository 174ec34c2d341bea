"""The matryoshka wrapper: the weighted sum of the wrapped loss on each leading slice, its config checks, and
GradCache through the wrapper."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pairsim import HEADS, LOSSES
from pairsim.config import from_dict
from pairsim.errors import ConfigError
from pairsim.losses.base import LossConfig


def head(name: str = "cosine") -> Any:
    return HEADS.get(name)(HEADS.get(name).Config(name=name))


def matryoshka(inner: dict[str, Any], **fields: Any) -> Any:
    config = from_dict(LossConfig, {"name": "matryoshka", "loss": inner, **fields}, where="loss")
    return LOSSES.get("matryoshka")(config, head=head())


def test_equals_the_weighted_sum_of_per_size_losses() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    target = torch.tensor([5.0, 3.0, 1.0, 0.0, 2.0, 4.0])
    loss = matryoshka({"name": "cosent", "scale": 10.0}, dims=[8, 4, 2], weights=[1.0, 0.5, 2.0])
    inner = LOSSES.get("cosent")(LOSSES.get("cosent").Config(name="cosent", scale=10.0), head=head())
    expected = inner(a, b, target) + 0.5 * inner(a[:, :4], b[:, :4], target) + 2.0 * inner(a[:, :2], b[:, :2], target)
    torch.testing.assert_close(loss(a, b, target), expected)
    assert loss.consumes == inner.consumes  # the wrapped loss's rows, target and sampler


def test_wrapped_parameters_train() -> None:
    loss = matryoshka({"name": "infonce"}, dims=[4, 2])
    assert [n for n, _ in loss.named_parameters()] == ["inner.log_scale"]
    loss(torch.eye(4), torch.eye(4).roll(1, 0)).backward()
    assert loss.inner.log_scale.grad is not None


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"loss\.dims: expected one or more embedding sizes"):
        matryoshka({"name": "infonce"}, dims=[])
    with pytest.raises(ConfigError, match=r"loss.weights: expected 2 weights \(one per size\), got 1"):
        matryoshka({"name": "infonce"}, dims=[4, 2], weights=[1.0])
    with pytest.raises(ConfigError, match="cannot wrap another matryoshka"):
        matryoshka({"name": "matryoshka"}, dims=[4])
    with pytest.raises(ConfigError, match=r"loss\.loss\.name: unknown loss 'nope'"):
        matryoshka({"name": "nope"}, dims=[4])


def test_cached_inner_loss_runs_in_mini_batches_with_the_same_gradients() -> None:
    tower = torch.nn.Linear(5, 6)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    batch = ({"x": x}, {"x": x.flip(0) + 0.1})
    grads = []
    for inner in ({"name": "infonce"}, {"name": "cached_infonce", "mini_batch_size": 3}):
        tower.zero_grad()
        loss = matryoshka(inner, dims=[6, 3])
        loss.step(lambda side, inputs: tower(inputs["x"]), batch).backward()
        grads.append(tower.weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-5)
