"""``train.fit.projection: wccn``: the closed-form within-class whitening map, and the trainer writing it into a
tower's projection before training (with ``train.epochs: 0`` it is the model)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pairsim.data.sources.base import load_dataset
from pairsim.errors import ConfigError, DataError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.fitters.projection import fit_projections, wccn
from pairsim.train.trainer import Trainer

# a small timm tower whose rest is one projection: EfficientNet-Lite0 (random init) cut after stage 1, 2x2 grid
TIMM = [
    "model.tower={name: timm, image_size: [32, 32], stage: 1, grid: 2, out_dim: 96}",
    "model.head={name: cosine}",
    "loss={name: contrastive, margin: 0.5}",
    "train.epochs=0",
]


def _classes(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """60 items of 5 classes in 6-d: the class shifts the first axis; the noise is large on axes 1-2."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(60) % 5  # (60,)
    noise = torch.randn(60, 6, generator=g) * torch.tensor([0.1, 3.0, 3.0, 0.5, 0.5, 0.5])  # (60, 6)
    return noise + labels[:, None] * torch.tensor([1.0, 0, 0, 0, 0, 0]), labels  # (60, 6), (60,)


def _within_scatter(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    d = torch.cat([x[labels == k] - x[labels == k].mean(0) for k in labels.unique()])  # (N, D)
    return d.T @ d / len(x)  # (D, D)


def test_wccn_whitens_the_within_class_scatter_and_centres() -> None:
    x, labels = _classes()
    weight, bias = wccn(x, labels, shrink=0.0, out_dim=6)
    mapped = x @ weight.T + bias  # (60, 6)
    torch.testing.assert_close(mapped.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(_within_scatter(mapped, labels), torch.eye(6), atol=1e-4, rtol=0)


def test_wccn_at_full_size_changes_no_cosine_of_plain_whitening_and_shrink_one_only_centres() -> None:
    x, labels = _classes(1)
    weight, bias = wccn(x, labels, shrink=0.3, out_dim=6)
    scatter = _within_scatter(x.double(), labels)
    scatter = 0.7 * scatter + 0.3 * scatter.diagonal().mean() * torch.eye(6, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(scatter)
    plain = ((x.double() - x.double().mean(0)) @ vectors @ torch.diag(values.rsqrt()) @ vectors.T).float()

    def cosines(z: torch.Tensor) -> torch.Tensor:
        z = torch.nn.functional.normalize(z, dim=1)
        return z @ z.T  # (60, 60)

    torch.testing.assert_close(cosines(x @ weight.T + bias), cosines(plain), atol=1e-5, rtol=0)
    weight, bias = wccn(x, labels, shrink=1.0, out_dim=6)
    torch.testing.assert_close(cosines(x @ weight.T + bias), cosines(x - x.mean(0)), atol=1e-5, rtol=0)


def test_wccn_below_full_size_keeps_the_axes_that_separate_the_classes() -> None:
    """The classes differ only along input axis 0 (noise 0.1), while axes 1-2 carry the most variance (noise 3):
    one output axis keeps axis 0, where PCA would keep the noise."""
    x, labels = _classes(2)
    weight, _ = wccn(x, labels, shrink=0.0, out_dim=1)
    assert weight.shape == (1, 6)
    direction = torch.nn.functional.normalize(weight[0], dim=0)
    assert direction[0].abs() > 0.99


def test_wccn_needs_two_classes_and_a_repeated_class() -> None:
    x = torch.randn(6, 3)
    with pytest.raises(DataError, match="at least two classes and a class with two items"):
        wccn(x, torch.zeros(6, dtype=torch.long), shrink=0.5, out_dim=3)
    with pytest.raises(DataError, match="at least two classes and a class with two items"):
        wccn(x, torch.arange(6), shrink=0.5, out_dim=3)


def test_the_trainer_writes_the_fitted_map_into_the_projection(digits_recipe: Callable[..., Recipe]) -> None:
    """With ``train.epochs=0`` the saved model is the built tower with its projection set to the WCCN map of its
    own trunk features of the training items; the map separates unseen digits better than the random projection
    of the same run without the fit (same seed, same trunk)."""
    fitted = digits_recipe(*TIMM, "train.fit.projection=wccn", "train.fit.shrink=0.2")
    Trainer(fitted, progress=False).run()
    model = PairModel.from_pretrained(Path(fitted.output_dir) / "model", device="cpu")
    tower = model.tower_a.eval()  # epochs 0: the trunk is the one the map was fitted on
    train = load_dataset(fitted.data).train
    with torch.no_grad():
        feats = torch.cat(
            [tower.forward_trunk(tower.preprocess(train.items[i : i + 256])) for i in range(0, len(train), 256)]
        )  # (N, 96)
    weight, bias = wccn(feats, torch.as_tensor(train.labels), shrink=0.2, out_dim=96)
    torch.testing.assert_close(model.tower_a.proj.weight, weight, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.tower_a.proj.bias, bias, atol=1e-5, rtol=1e-4)

    plain = digits_recipe(*TIMM, output_dir=Path(fitted.output_dir).with_name("plain"))
    Trainer(plain, progress=False).run()
    auc = {
        name: json.loads((Path(r.output_dir) / "metrics.json").read_text())["test"]["roc_auc"]
        for name, r in (("fitted", fitted), ("plain", plain))
    }
    assert auc["fitted"] > auc["plain"] + 0.05, auc


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "the cnn tower cannot be fitted in closed form; expected a tower whose trunk features go through"),
        ([*TIMM, "model.tower.out_dim=0"], r"the timm tower's out_dim must lie in 1\.\.96 \(its feature size\)"),
        ([*TIMM, "model.tower.out_dim=97"], r"out_dim must lie in 1\.\.96 .*got 97"),
    ],
)
def test_a_tower_without_a_fittable_projection_is_one_config_error(
    digits_recipe: Callable[..., Recipe], overrides: list[str], message: str
) -> None:
    recipe = digits_recipe(*overrides, "train.fit.projection=wccn")
    with pytest.raises(ConfigError, match=message):
        Trainer(recipe, progress=False).run()
    assert not (Path(recipe.output_dir) / "model").exists()


def test_data_without_classes_is_one_config_error(digits_recipe: Callable[..., Recipe]) -> None:
    """Every layout gives classes (tests/train/test_fit_layouts.py); anything else is named in one error."""
    model = PairModel.from_config(digits_recipe(*TIMM).model)
    with pytest.raises(
        ConfigError, match=r"wccn learns from classes; expected labelled items, a pair table .* got list"
    ):
        fit_projections(model, ["x", "y"], method="wccn", shrink=0.5, batch_size=8)


def test_augmented_views_teach_the_map_to_discount_the_augmentation(digits_recipe: Callable[..., Recipe]) -> None:
    """Mirror images as extra views of each training digit (``hflip`` alone): the fitted map brings held-out digits
    closer to their mirror images than the map fitted without views does."""
    recipe = digits_recipe(
        *TIMM, "model.tower.augment={enabled: true, probability: 0.0, hflip: true}", "model.tower.out_dim=96"
    )
    splits = load_dataset(recipe.data)
    torch.manual_seed(0)
    model = PairModel.from_config(recipe.model).eval()
    tower = model.tower_a
    test = splits.test.items[:64]
    with torch.no_grad():
        batch = tower.preprocess(test)
        plain = tower.forward_trunk(batch)  # (64, 96)
        mirrored = tower.forward_trunk({"pixel_values": batch["pixel_values"].flip(-1)})  # (64, 96)

    def mirror_cosine(views: int) -> float:
        fit_projections(model, splits.train, method="wccn", shrink=0.2, views=views, seed=0, batch_size=256)
        with torch.no_grad():
            a, b = tower.forward_rest(plain), tower.forward_rest(mirrored)
        return float(torch.nn.functional.cosine_similarity(a, b).mean())

    without, with_views = mirror_cosine(0), mirror_cosine(2)
    assert with_views > without + 0.1, (without, with_views)


def test_views_need_the_tower_augmentation(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe(*TIMM, "train.fit.projection=wccn", "train.fit.views=2")
    with pytest.raises(ConfigError, match=r"train.fit.views: 2 augmented views need the timm tower's augment"):
        Trainer(recipe, progress=False).run()


def test_views_without_a_fit_are_one_config_error(digits_recipe: Callable[..., Recipe]) -> None:
    with pytest.raises(ConfigError, match=r"train\.fit\.views: 2 views need train\.fit\.projection"):
        digits_recipe(*TIMM, "train.fit.views=2")


def test_no_shrinkage_with_too_few_items_is_one_data_error() -> None:
    x, labels = torch.randn(9, 8), torch.arange(9) % 2  # 9 items of 2 classes: within-class rank 7 < 8 features
    with pytest.raises(DataError, match=r"train\.fit\.shrink: 0 needs more items than classes plus features"):
        wccn(x, labels, shrink=0.0, out_dim=8)
