"""PairModel: tied and untied towers, encoding raw inputs (deduplicated, in order) and scoring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairsim import LOSSES, PairModel, PairModelConfig
from pairsim.errors import ConfigError


# -- tied / untied --------------------------------------------------------------------------------------------
def test_tied_model_has_one_set_of_weights(make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm")
    assert model.tied and model.tower_b is None
    assert model.side_b is model.tower_a and model.distinct_towers == [model.tower_a]
    keys = list(model.state_dict())
    assert keys and all(k.startswith("tower_a.") for k in keys)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.tower_a.parameters())
    batch = model.tower_a.preprocess(texts)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.embed_a(batch), model.embed_b(batch))
        torch.testing.assert_close(model(batch, batch), torch.ones(len(texts)))  # cosine of x with itself


def test_untied_model_has_two_towers(make_model: Callable[..., PairModel]) -> None:
    model = make_model("lstm", tower_b="lstm")
    assert not model.tied and model.tower_b is not None and model.side_b is model.tower_b
    assert model.distinct_towers == [model.tower_a, model.tower_b]
    keys = list(model.state_dict())
    a_keys = [k for k in keys if k.startswith("tower_a.")]
    b_keys = [k for k in keys if k.startswith("tower_b.")]
    assert len(a_keys) == len(b_keys) > 0 and len(a_keys) + len(b_keys) == len(keys)
    assert all(p is not q for p in model.tower_a.parameters() for q in model.tower_b.parameters())


def test_untied_towers_with_different_sizes_raise(tower_config: Callable[..., dict[str, Any]]) -> None:
    config = PairModelConfig.from_dict({"tower": tower_config("lstm"), "tower_b": tower_config("cnn", out_dim=16)})
    with pytest.raises(ConfigError, match=r"different sizes \(8 and 16\)"):
        PairModel(config)


def test_weighted_l1_head_takes_its_size_from_the_towers(make_model: Callable[..., PairModel]) -> None:
    model = make_model("cnn", head="weighted_l1")
    assert model.config.head.dim == 8 and model.head.weight.shape == (8,)
    keys = list(model.state_dict())
    assert "head.raw_weight" in keys and all(k.startswith(("tower_a.", "head.")) for k in keys)


def test_adapt_uses_both_sides(tower_config: Callable[..., dict[str, Any]]) -> None:
    tied = PairModel.from_config({"tower": tower_config("lstm")}, pretrained=False)
    tied.adapt(["alpha beta"], ["gamma"])
    assert {"alpha", "beta", "gamma"} <= set(tied.tower_a.tokenizer.itos)
    untied = PairModel.from_config({"tower": tower_config("lstm"), "tower_b": tower_config("lstm")})
    untied.adapt(["alpha beta"], ["gamma"])
    assert "gamma" not in untied.tower_a.tokenizer.itos and "alpha" not in untied.tower_b.tokenizer.itos
    untied.adapt(["delta"])  # no b-items: side b is adapted on the a-items
    assert "delta" in untied.tower_b.tokenizer.itos


def test_untied_text_image_model_trains_one_step(
    make_model: Callable[..., PairModel], texts: list[str], images: list[Any]
) -> None:
    model = make_model("transformer", tower_b="cnn")
    loss_cls = LOSSES.get("infonce")
    loss = loss_cls(loss_cls.Config(name="infonce"), head=model.head)
    batch_a = model.tower_a.preprocess(texts[:3])
    batch_b = model.tower_b.preprocess(images[:3])

    def value() -> float:
        model.eval()
        with torch.no_grad():
            return float(loss(model.embed_a(batch_a), model.embed_b(batch_b)))

    before = value()
    params_before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD([*model.parameters(), *loss.parameters()], lr=1e-3)
    model.eval()  # dropout off: the step follows the gradient of exactly the loss measured above
    optimizer.zero_grad()
    loss(model.embed_a(batch_a), model.embed_b(batch_b)).backward()
    optimizer.step()
    after = value()
    assert after != before and after < before
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), params_before[n])}
    for prefix in ("tower_a.encoder.embeddings.word_embeddings", "tower_a.proj", "tower_b.features.0", "tower_b.fc"):
        assert any(n.startswith(prefix) for n in changed), prefix
    assert all(n.startswith(("tower_a.", "tower_b.")) for n in changed)


# -- encoding raw inputs ----------------------------------------------------------------------------------------
def _count_preprocessed(model: PairModel, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Spy on how the tower makes encoding batches (preprocess, or collate of token ids tokenised once for all
    texts) and on featurize; returns the batch sizes each saw (encoding tokenises directly, without
    featurize's training-time token cache)."""
    tower = model.tower_a
    preprocessed: list[int] = []
    featurized: list[int] = []
    preprocess, featurize, collate = tower.preprocess, tower.featurize, tower.collate

    def spy_preprocess(items):
        preprocessed.append(len(items))
        return preprocess(items)

    def spy_collate(features):
        preprocessed.append(len(features))
        return collate(features)

    def spy_featurize(items, **kwargs):
        featurized.append(len(items))
        return featurize(items, **kwargs)

    monkeypatch.setattr(tower, "preprocess", spy_preprocess)
    if tower.modality == "text":  # (other towers' preprocess calls collate itself)
        monkeypatch.setattr(tower, "collate", spy_collate)
    monkeypatch.setattr(tower, "featurize", spy_featurize)
    return preprocessed, featurized


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_encode_text_dedups_and_keeps_the_input_order(
    name: str, make_model: Callable[..., PairModel], monkeypatch: pytest.MonkeyPatch, texts: list[str]
) -> None:
    model = make_model(name)
    items = [texts[2], texts[0], texts[2], texts[1], texts[0], texts[3], texts[2]]
    calls, featurized = _count_preprocessed(model, monkeypatch)
    progress: list[int] = []
    encoded = model.encode_a(items, batch_size=3, progress=progress.append)
    assert sum(calls) == 4 and max(calls) <= 3  # 4 distinct texts, batches of at most 3
    assert featurized == []  # encoding many texts once does not fill the tower's token cache
    assert progress == calls
    one_by_one = torch.cat([model.encode_a([x]) for x in items])
    assert encoded.shape == (7, model.tower_a.out_dim) and encoded.device.type == "cpu"
    torch.testing.assert_close(encoded, one_by_one, atol=1e-6, rtol=0)
    assert torch.equal(encoded[0], encoded[2]) and torch.equal(encoded[1], encoded[4])
    assert not torch.allclose(encoded[0], encoded[1])


def test_encode_images_dedups_paths_and_repeated_objects(
    make_model: Callable[..., PairModel], monkeypatch: pytest.MonkeyPatch, pngs: Callable[..., list[str]]
) -> None:
    model = make_model("cnn")
    paths = pngs(n=2, size=72)
    array = np.random.default_rng(3).random((72, 72))
    equal_copy = array.copy()  # equal but a different object: encoded again, with the same result
    items = [paths[0], array, Path(paths[0]), paths[1], array, equal_copy, paths[1]]
    calls, featurized = _count_preprocessed(model, monkeypatch)
    encoded = model.encode_a(items, batch_size=64)
    assert calls == featurized == [4]  # paths[0], array, paths[1], equal_copy
    one_by_one = torch.cat([model.encode_a([x]) for x in items])
    torch.testing.assert_close(encoded, one_by_one, atol=1e-6, rtol=0)
    assert torch.equal(encoded[0], encoded[2]) and torch.equal(encoded[1], encoded[5])


def test_encode_restores_the_mode_and_records_no_graph(make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm")
    model.train()
    out = model.encode_b(texts)
    assert model.training and not out.requires_grad
    model.eval()
    model.encode_a(texts)
    assert not model.training
    assert model.encode_a([]).shape == (0, model.tower_a.out_dim)


def test_encode_uses_eval_mode(tower_config: Callable[..., dict[str, Any]], images: list[Any]) -> None:
    """Dropout and batch statistics are off while encoding, whatever mode the model is in."""
    torch.manual_seed(0)
    model = PairModel.from_config({"tower": tower_config("cnn", arch="face", image_size=[32, 32], dropout=0.9)})
    model.train()
    items = images
    first, second = model.encode_a(items), model.encode_a(items)
    assert torch.equal(first, second)
    torch.testing.assert_close(first[:1], model.encode_a(items[:1]), atol=1e-6, rtol=0)


def test_untied_encode_b_uses_tower_b(make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm", tower_b="lstm")
    a, b = model.encode_a(texts), model.encode_b(texts)
    assert not torch.allclose(a, b)  # different weights
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(b, model.tower_b(model.tower_b.preprocess(texts)), atol=1e-6, rtol=0)


# -- scoring --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["cosine", "euclidean", "exp", "weighted_l1"])
def test_score_is_the_head_of_the_encodings(head: str, make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm", head=head)
    a, b = texts, [texts[1], texts[1], texts[3], texts[0]]
    scores = model.score(a, b, batch_size=2)
    assert scores.shape == (4,) and scores.dtype == torch.float32
    with torch.no_grad():
        expected = model.head(model.encode_a(a), model.encode_b(b))
    torch.testing.assert_close(scores, expected)
    if head != "weighted_l1":
        same = model.score(texts, texts)
        torch.testing.assert_close(same, torch.full((4,), model.head.best), atol=1e-5, rtol=0)


def test_score_length_mismatch_raises(make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm")
    with pytest.raises(ValueError, match=r"^items_a and items_b: expected as many inputs each .*got 2 and 3$"):
        model.score(texts[:2], texts[:3])


def test_is_similar_needs_a_threshold(make_model: Callable[..., PairModel]) -> None:
    model = make_model("lstm", head="euclidean")
    with pytest.raises(ValueError, match="no calibrated threshold"):
        model.is_similar(torch.tensor([0.1]))
    thresholded = make_model("lstm", head="euclidean", threshold=0.5)
    assert thresholded.is_similar(torch.tensor([0.1, 0.5, 0.9])).tolist() == [True, True, False]


def test_from_config_accepts_plain_data_and_config_dict_round_trips(
    tower_config: Callable[..., dict[str, Any]],
) -> None:
    data = {"tower": tower_config("lstm"), "head": {"name": "exp"}, "threshold": 0.25}
    model = PairModel.from_config(data)
    assert isinstance(model.config, PairModelConfig) and model.config.threshold == 0.25
    plain = model.config_dict()
    assert plain["head"]["name"] == "exp" and plain["tower"]["embed_dim"] == 8 and plain["tower_b"] is None
    assert PairModelConfig.from_dict(plain) == model.config
