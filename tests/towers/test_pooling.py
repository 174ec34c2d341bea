"""The pooling family of image towers (pairsim/towers/pooling.py) and mirror averaging (pairsim/towers/mirror.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from pairsim.config import from_dict
from pairsim.errors import ConfigError
from pairsim.towers import TOWERS, Tower, TowerConfig
from pairsim.towers.mirror import MirrorAverage, mirror_averaged
from pairsim.towers.pooling import GridPool, HeadPool, StagePool
from pairsim.towers.token_pooling import token_pooling

Make = Callable[..., dict[str, Any]]


def build(config: dict[str, Any]) -> Tower:
    torch.manual_seed(0)
    cfg = from_dict(TowerConfig, config, where="tower")
    return TOWERS.get(cfg.name)(cfg)


def maps(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_grid_pool_averages_each_cell_cell_by_cell() -> None:
    """``GridPool(g)`` on a map whose sides divide by g: the mean of each block, row-major, a cell's C channels
    together; ``GridPool(1)`` is the global mean. Sizes follow from the channels alone."""
    x = maps(2, 3, 6, 9)  # (B, C, h, w)
    cells = [x[:, :, i : i + 2, j : j + 3].mean((2, 3)) for i in (0, 2, 4) for j in (0, 3, 6)]  # 9 x (B, C)
    torch.testing.assert_close(GridPool(3)(x), torch.cat(cells, 1))  # (B, 9*C)
    assert torch.equal(GridPool(1)(x), x.mean((2, 3)))
    assert GridPool(3).out_features(3) == 27 == GridPool(3)(x).shape[1]
    assert GridPool(1).out_features(3) == 3
    assert not list(GridPool(2).parameters()) and not GridPool(2).state_dict()


def test_grid_pool_names_its_source_for_tokens_instead_of_maps() -> None:
    with pytest.raises(ConfigError, match=r"^grid: model 'vit' gives feature maps of shape \(2, 5, 4\), expected"):
        GridPool(2, source="grid: model 'vit'")(torch.zeros(2, 5, 4))


def test_stage_pool_concatenates_each_maps_pooling_in_order() -> None:
    """Earlier stages first, each pooled by its own module; the size is the sum of theirs."""
    early, late = maps(2, 4, 8, 8, seed=1), maps(2, 6, 4, 4, seed=2)
    pool = StagePool([GridPool(2), GridPool(1)])
    torch.testing.assert_close(pool([early, late]), torch.cat([GridPool(2)(early), late.mean((2, 3))], 1))
    assert pool.out_features([4, 6]) == 4 * 4 + 6 == pool([early, late]).shape[1]
    assert torch.equal(StagePool([GridPool(1)])([late]), late.mean((2, 3)))  # one map: its pooling as is
    with pytest.raises(ValueError, match="2 channel counts for 1 poolings"):
        StagePool([GridPool(1)]).out_features([4, 6])


def test_head_pool_runs_the_backbones_own_pooling_without_owning_it() -> None:
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(4))
    pool = HeadPool(head.forward, 4)
    x = maps(3, 4, 5, 5)
    assert torch.equal(pool(x), head(x)) and pool.out_features(999) == 4
    assert not pool.state_dict()  # the head's parameters stay where they are
    with pytest.raises(TypeError, match="not a module"):
        HeadPool(head, 4)


def test_mirror_average_is_the_mean_of_the_image_and_its_mirror() -> None:
    """One pass over the batch and its flip; invariant to a left-right flip; each image independent of the batch."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 5, 4))
    mirror = MirrorAverage(net.forward)
    x = maps(3, 2, 3, 5)  # (B, C, H, W)
    with torch.no_grad():
        out = mirror(x)  # (B, 4)
        torch.testing.assert_close(out, (net(x) + net(x.flip(-1))) / 2)
        torch.testing.assert_close(mirror(x.flip(-1)), out)
        torch.testing.assert_close(mirror(x[1:2]), out[1:2])
        assert not torch.allclose(net(x), net(x.flip(-1)))  # the net alone tells them apart
    assert not mirror.state_dict()
    assert mirror_averaged(net.forward, False) == net.forward
    assert isinstance(mirror_averaged(net.forward, True), MirrorAverage)
    with pytest.raises(TypeError, match="not a module"):
        MirrorAverage(net)


TIMM_POOLINGS = [
    ({}, ["HeadPool"]),
    ({"grid": 2}, ["GridPool"]),
    ({"stage": 3, "grid": 3}, ["GridPool"]),
    ({"concat_stages": [3, 4]}, ["GridPool", "GridPool", "HeadPool"]),
    ({"concat_stages": [1], "stage": 3, "grid": 2, "mirror_average": True}, ["GridPool", "GridPool"]),
]


@pytest.mark.parametrize(("options", "pools"), TIMM_POOLINGS)
def test_timm_tower_composes_backbone_pooling_projection(
    options: dict[str, Any], pools: list[str], tower_config: Make
) -> None:
    """The timm tower's pooling is built from ``stage`` / ``grid`` / ``concat_stages``: its trunk features are the
    pooling of the backbone's maps, its size is the pooling's, and the pooling and mirror wrappers add no
    ``state_dict`` key (old saved models load: every key is the backbone's or the projection's)."""
    tower = build(tower_config("timm", **options)).eval()
    assert [type(p).__name__ for p in tower.pool.pools] == pools
    assert all(key.startswith(("backbone.", "proj.")) for key in tower.state_dict())
    x = maps(2, 3, 64, 64)
    with torch.no_grad():
        feature_maps = tower.feature_maps(x)
        features = tower.pool(feature_maps)  # (2, feature_dim)
        if options.get("mirror_average"):
            features = (features + tower.pool(tower.feature_maps(x.flip(-1)))) / 2
        torch.testing.assert_close(tower.forward_trunk({"pixel_values": x}), features)
    channels = [m.shape[1] for m in feature_maps]
    assert features.shape == (2, tower.feature_dim) and tower.feature_dim == tower.pool.out_features(channels)


def test_token_poolings_against_their_definitions() -> None:
    """Mean and max over the real tokens only (padding ignored), cls the first token; unknown names refused."""
    hidden = maps(2, 4, 3)  # (B, T, H)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])  # (B, T)
    torch.testing.assert_close(token_pooling("mean")(hidden, mask), torch.stack([hidden[0, :3].mean(0), hidden[1, 0]]))
    expected_max = torch.stack([hidden[0, :3].max(0).values, hidden[1, 0]])
    assert torch.equal(token_pooling("max")(hidden, mask), expected_max)
    assert torch.equal(token_pooling("cls")(hidden, mask), hidden[:, 0])
    assert torch.equal(token_pooling("max")(hidden, mask.bool()), expected_max)  # bool or 0/1 masks alike
    with pytest.raises(ConfigError, match=r"pooling: expected one of mean, max, cls, got 'sum'"):
        token_pooling("sum")


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_lstm_pools_its_outputs_with_the_token_pooling(pooling: str, tower_config: Make, texts: list[str]) -> None:
    """The LSTM tower (and its export graph) take mean / max from the same modules; ``last`` needs none."""
    tower = build(tower_config("lstm", pooling=pooling))
    tower.adapt(texts)
    assert (tower.pool is None) == (pooling == "last") and tower.onnx_graph().pool.__class__ is tower.pool.__class__
    assert not any(key.startswith("pool") for key in tower.state_dict())
