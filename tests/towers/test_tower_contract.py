"""The contract every registered tower keeps: shapes, gradients, featurize + collate == preprocess, bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairsim import TOWERS, Tower
from pairsim.config import from_dict
from pairsim.errors import DataError, PairsimError
from pairsim.towers import TowerConfig

# towers giving embeddings (a cross-encoder's pair_tokens gives token ids: tests/towers/test_pair_tokens.py)
EMBEDDING_TOWERS = [n for n in TOWERS.names() if TOWERS.get(n).gives == "embeddings"]
# every registered embedding tower at its tiny config, plus variants worth running through the contract
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{name: (name, {}) for name in EMBEDDING_TOWERS},
    "cnn-face": ("cnn", {"arch": "face", "image_size": [32, 32]}),
    "lstm-bi-mean-proj": ("lstm", {"hidden_dim": 4, "bidirectional": True, "pooling": "mean", "out_dim": 8}),
    "lstm-2-layers-max": ("lstm", {"hidden_dim": 4, "num_layers": 2, "pooling": "max"}),
    "transformer-cls-norm": ("transformer", {"pooling": "cls", "normalize": True}),
}
Make = Callable[..., dict[str, Any]]
IMAGE_TOWERS = [n for n in TOWERS.names() if TOWERS.get(n).modality == "image"]
# parameters a tower holds but never uses on purpose (BERT's pooler: towers pool the last hidden state)
UNUSED_PARAMETERS: dict[str, tuple[str, ...]] = {"transformer": ("encoder.pooler.",)}


def build(tower_config: Make, variant: str) -> Tower:
    """Build, adapt and load a tower the way a PairModel does."""
    name, overrides = VARIANTS[variant]
    config = tower_config(name, **overrides)
    torch.manual_seed(0)
    cfg = from_dict(TowerConfig, config, where="tower")
    tower = TOWERS.get(cfg.name)(cfg)
    tower.adapt(["How old are you?", "what is your age", "The cat sat on the mat.", "a dog runs in the park"])
    tower.load_pretrained()
    return tower


def test_every_tower_has_a_tiny_config(tiny_tower_configs: dict[str, dict[str, Any]]) -> None:
    assert sorted(tiny_tower_configs) == TOWERS.names(), "add a TINY_TOWER_CONFIGS row to tests/conftest.py"
    for name, data in tiny_tower_configs.items():
        assert data["name"] == name


@pytest.mark.parametrize("variant", VARIANTS)
def test_output_shape_and_gradients(variant: str, tower_config: Make, sample_items) -> None:
    tower = build(tower_config, variant)
    config = tower.config
    assert tower.out_dim == (config.out_dim or config.hidden_dim)
    tower.train()
    items = sample_items(tower.modality)
    out = tower(tower.preprocess(items))
    assert out.shape == (len(items), tower.out_dim) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(0))
    (out * weights).sum().backward()
    skip = UNUSED_PARAMETERS.get(config.name, ())
    params = [(n, p) for n, p in tower.named_parameters() if p.requires_grad and not n.startswith(skip)]
    assert params
    for name, p in params:
        assert p.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), name
    first_name, first = params[0]  # the bottom layer: the gradient went all the way down
    assert first.grad.abs().sum() > 0, first_name


@pytest.mark.parametrize("variant", VARIANTS)
def test_featurize_then_collate_equals_preprocess(variant: str, tower_config: Make, sample_items) -> None:
    tower = build(tower_config, variant)
    items = sample_items(tower.modality)
    features = tower.featurize(items)
    assert len(features) == len(items)
    by_two = tower.collate(features)
    at_once = tower.preprocess(items)
    assert sorted(by_two) == sorted(at_once)
    for key in at_once:
        assert torch.equal(by_two[key], at_once[key]), key


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_equals_one_by_one_in_eval_mode(variant: str, tower_config: Make, sample_items) -> None:
    """Padding, batch statistics and dropout do not leak between items at inference."""
    tower = build(tower_config, variant).eval()
    items = sample_items(tower.modality)
    with torch.no_grad():
        batched = tower(tower.preprocess(items))
        single = torch.cat([tower(tower.preprocess([x])) for x in items])
        again = tower(tower.preprocess(items))
    assert torch.equal(batched, again)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", IMAGE_TOWERS)
def test_bad_image_input_raises_data_error_naming_it(name: str, tower_config: Make, tmp_path: Path) -> None:
    tower = build(tower_config, name)
    good = np.zeros((20, 20, 3), dtype=np.uint8)
    missing = tmp_path / "nope" / "missing.png"
    with pytest.raises(DataError, match=re.escape(f"image file not found: {missing}")):
        tower.featurize([good, str(missing)])
    with pytest.raises(DataError, match=r"missing\.png"):
        tower.preprocess([missing])  # a Path as well as a str
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image")
    with pytest.raises(DataError, match=re.escape(f"cannot read image {not_an_image}")):
        tower.preprocess([not_an_image])
    for shape in [(2, 3, 4, 5), (8, 8, 2), (8,)]:
        with pytest.raises(DataError, match=rf"array of shape \({', '.join(map(str, shape))},?\)"):
            tower.featurize([np.zeros(shape, dtype=np.float32)])
    with pytest.raises(DataError, match=r"tensor of shape \(2, 5, 6, 7\)"):
        tower.featurize([torch.zeros(2, 5, 6, 7)])
    with pytest.raises(DataError, match="cannot use int as an image"):
        tower.featurize([3])
    assert issubclass(DataError, PairsimError)


@pytest.mark.parametrize("name", [n for n in EMBEDDING_TOWERS if TOWERS.get(n).modality == "text"])
def test_text_towers_take_any_text(name: str, tower_config: Make) -> None:
    tower = build(tower_config, name).eval()
    items = ["", "unseen words zzzqx", "How old are you?", Path("a/path.txt")]
    with torch.no_grad():
        out = tower(tower.preprocess(items))
    assert out.shape == (4, tower.out_dim) and torch.isfinite(out).all()
    assert tower.item_key("abc") == "abc" and tower.item_key(Path("a/b")) == str(Path("a/b"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_trunk_split_is_the_forward(variant: str, tower_config: Make, sample_items) -> None:
    """A tower naming a trunk computes ``forward_rest(forward_trunk(batch))``, and the trunk is that submodule."""
    tower = build(tower_config, variant)
    if tower.trunk is None:
        with pytest.raises(NotImplementedError):
            tower.forward_trunk(tower.preprocess(sample_items(tower.modality)))
        return
    assert isinstance(getattr(tower, tower.trunk), torch.nn.Module)
    tower.eval()
    batch = tower.preprocess(sample_items(tower.modality))
    with torch.no_grad():
        features = tower.forward_trunk(batch)  # (B, F)
        assert features.ndim == 2 and features.shape[0] == len(sample_items(tower.modality))
        torch.testing.assert_close(tower.forward_rest(features), tower(batch), rtol=0, atol=0)


@pytest.mark.parametrize("name", EMBEDDING_TOWERS)
def test_distinct_gives_each_repeated_input_one_row(name: str, tower_config: Make, sample_items) -> None:
    tower = build(tower_config, name)
    items = sample_items(tower.modality)[:2]
    first, rows = tower.distinct([items[0], items[1], items[0], items[1], items[1]])
    assert first == [0, 1] and rows.tolist() == [0, 1, 0, 1, 1]
