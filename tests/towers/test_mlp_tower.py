"""The ``mlp`` tower: the seeds' MNIST network at its defaults, images and plain vectors, config errors.

Shapes, gradients, batching and save -> load are covered for every tower by the registry-driven tests
(``tests/towers/test_tower_contract.py``, ``tests/test_hub.py``) through its ``TINY_TOWER_CONFIGS`` row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from pairsim.config import from_dict
from pairsim.errors import ConfigError, DataError
from pairsim.towers import TOWERS, Tower, TowerConfig


def build(**fields: Any) -> Tower:
    torch.manual_seed(0)
    cfg = from_dict(TowerConfig, {"name": "mlp", **fields}, where="tower")
    return TOWERS.get("mlp")(cfg)


def test_defaults_are_the_seed_mnist_network() -> None:
    tower = build()
    layers = list(tower.net)
    kinds = [type(m).__name__ for m in layers]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU"]
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 128), (128, 128), (128, 128)]
    assert all(m.p == 0.1 for m in layers if isinstance(m, nn.Dropout))
    assert tower.out_dim == 128 and tower.modality == "image"


def test_uint8_mnist_arrays_are_scaled_to_unit_range_and_flattened() -> None:
    tower = build(hidden=[], out_dim=3, last_activation=False, dropout=0.0)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[3, 5] = 255
    x = tower.preprocess([image, np.full((28, 28), 51, dtype=np.uint8)])["pixel_values"]
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert x[0, 0, 3, 5] == 1.0 and x[0].sum() == 1.0
    torch.testing.assert_close(x[1], torch.full((1, 28, 28), 0.2))
    linear = tower.net[1]
    with torch.no_grad():
        out = tower({"pixel_values": x})  # one Linear: W x + b on the flattened image
    torch.testing.assert_close(out, x.flatten(1) @ linear.weight.T + linear.bias)


def test_vectors_are_used_as_given() -> None:
    tower = build(input="vector", in_dim=5, hidden=[4], out_dim=2, dropout=0.0).eval()
    vectors = [[0.5, 1, 2, 3, 4], np.arange(5, dtype=np.float64), torch.ones(5)]
    batch = tower.preprocess(vectors)
    assert batch["pixel_values"].shape == (3, 5) and batch["pixel_values"].dtype == torch.float32
    torch.testing.assert_close(batch["pixel_values"][0], torch.tensor([0.5, 1, 2, 3, 4]))
    out = tower(batch)
    assert out.shape == (3, 2) and (out >= 0).all()  # relu on the last layer
    with pytest.raises(DataError, match=r"an input of 4 values as a vector; expected 5 \(in_dim\)"):
        tower.featurize([[1, 2, 3, 4]])
    with pytest.raises(DataError, match="cannot use str as a vector; expected 5 numbers"):
        tower.featurize(["abcde"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input": "vector"}, "in_dim: input 'vector' needs the vector length"),
        ({"hidden": [8, 0]}, r"hidden\[1\]: expected an integer in \[1, 65536\], got 0"),
        ({"hidden": [60000, 60000]}, r"hidden: layer sizes \[784, 60000, 60000, 128\] give a weight table over"),
        ({"dropout": 1.0}, r"dropout: expected a number in \[0, 1\), got 1.0"),
        ({"activation": "swish"}, "activation: expected one of 'relu', 'gelu', 'tanh'"),
    ],
)
def test_bad_config_is_one_config_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(**fields)


def test_a_vector_model_scores_vectors_and_names_a_bad_one() -> None:
    """input: vector keeps its own contract (numbers, in_dim of them) where the image contract would refuse lists."""
    from pairsim.model import PairModel

    model = PairModel.from_config(
        {"tower": {"name": "mlp", "input": "vector", "in_dim": 3, "hidden": [4], "out_dim": 2}}, pretrained=False
    )
    scores = model.score([[0.0, 1.0, 2.0], np.ones(3)], [torch.ones(3), [5, 6, 7]])
    assert scores.shape == (2,) and torch.isfinite(scores).all()
    with pytest.raises(ValueError, match=r"^items_b: item 2: cannot use an input of 2 values as a vector; expected 3"):
        model.score([[0.0, 1.0, 2.0], np.ones(3)], [torch.ones(3), [5, 6]])
