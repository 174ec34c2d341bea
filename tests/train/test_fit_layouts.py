"""The few-class fitters on every data layout: ``train.fit.projection: wccn`` learns from the classes each layout
gives (``class_items``): an image folder's sub-folders, a pair table's class columns or the groups its similar
pairs join, a caption's image; the S-norm cohort comes from a pair table's items too."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.config import from_dict
from pairsim.data.sources.base import load_dataset
from pairsim.data.types import CaptionImages, LabelledItems
from pairsim.errors import ConfigError, DataError
from pairsim.model import PairModel, PairModelConfig
from pairsim.recipe import Recipe
from pairsim.train.fitters.cohort import fill_cohort
from pairsim.train.fitters.projection import fit_projections
from pairsim.train.trainer import Trainer

# a small timm tower whose rest is one projection (random init), at its full feature size: plain WCCN, no
# eigenvector signs to differ between two fits
TIMM = {"name": "timm", "model": "efficientnet_lite0", "image_size": [32, 32], "stage": 1, "grid": 2, "out_dim": 96}
CLASSES, PER_CLASS = 4, 4


def _folder(root: Path) -> Path:
    """An image folder: CLASSES sub-folders of PER_CLASS random 32x32 PNGs, each class its own mean colour."""
    rng = np.random.default_rng(0)
    for c in range(CLASSES):
        (root / f"person{c}").mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = np.clip(rng.normal(60 * c + 30, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"person{c}" / f"{i}.png")
    return root


def _model() -> PairModel:
    torch.manual_seed(0)
    config = from_dict(PairModelConfig, {"tower": TIMM, "head": {"name": "cosine"}}, where="model")
    return PairModel.from_config(config).eval()


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _table(root: Path, *, chained: bool) -> list[dict[str, str]]:
    """Pairs over the folder's images, by paths relative to ``root``: with ``chained``, each image similar to the
    next of its class (so the similar pairs join each class) and one different pair per class; else only
    different pairs, each row naming both images' classes."""
    rows = []
    for c in range(CLASSES):
        images = [f"person{c}/{i}.png" for i in range(PER_CLASS)]
        other = f"person{(c + 1) % CLASSES}/0.png"
        if chained:
            rows += [
                {"a": x, "b": y, "label": "1", "ca": f"p{c}", "cb": f"p{c}"} for x, y in itertools.pairwise(images)
            ]
        rows += [{"a": x, "b": other, "label": "0", "ca": f"p{c}", "cb": f"p{(c + 1) % CLASSES}"} for x in images]
    return rows


def _fitted(model: PairModel, split: object) -> tuple[torch.Tensor, torch.Tensor]:
    fit_projections(model, split, method="wccn", shrink=0.3, batch_size=64)
    return model.tower_a.proj.weight.detach().clone(), model.tower_a.proj.bias.detach().clone()


def _pair_table(root: Path, tmp_path: Path, *, chained: bool, **config: object) -> object:
    held = _write(tmp_path / "held.csv", [{"a": "person0/0.png", "b": "person1/0.png", "label": "0", "ca": "p0",
                                           "cb": "p1"}])  # fmt: skip
    data = {"name": "pair_table", "path": str(_write(root / "pairs.csv", _table(root, chained=chained))),
            "val_path": str(held), "test_path": str(held), "drop_test_overlap": False, "column_a": "a",
            "column_b": "b", "modality": "image", "cache_dir": str(tmp_path / "hf"), **config}  # fmt: skip
    return load_dataset(data).train


@pytest.mark.parametrize("chained", [True, False], ids=["classes-from-similar-pairs", "classes-from-columns"])
def test_wccn_from_a_pair_table_equals_wccn_from_the_equivalent_image_folder(tmp_path: Path, chained: bool) -> None:
    root = _folder(tmp_path / "faces")
    folder = load_dataset({"name": "image_folder", "path": str(root), "split_by": "item", "val_fraction": 0.0,
                           "test_fraction": 0.0}).train  # fmt: skip
    assert isinstance(folder, LabelledItems) and len(folder) == CLASSES * PER_CLASS
    columns = {} if chained else {"class_a": "ca", "class_b": "cb"}
    table = _pair_table(root, tmp_path, chained=chained, **columns)
    items = table.class_items(None)
    assert sorted(items.items) == sorted(folder.items) and len(set(items.labels)) == CLASSES
    from_folder, from_table = _fitted(_model(), folder), _fitted(_model(), table)
    assert not torch.allclose(from_folder[0], _model().tower_a.proj.weight)  # the fit changed the projection
    torch.testing.assert_close(from_table[0], from_folder[0], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(from_table[1], from_folder[1], atol=1e-4, rtol=1e-3)


def test_a_pair_table_without_similar_pairs_or_class_columns_is_one_data_error_before_fitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only different pairs and no class columns: every image is a class of its own; the check says so (and how to
    name the classes) before any image is encoded."""
    root = _folder(tmp_path / "faces")
    table = _pair_table(root, tmp_path, chained=False)
    plain = {"model": {"tower": TIMM}, "loss": {"name": "contrastive"}, "data": {"name": "digits"}}
    recipe = Recipe.from_dict({**plain, "train": {"fit": {"projection": "wccn"}}})
    from pairsim.train.fitters.projection import ProjectionFitter

    encoded: list[int] = []
    monkeypatch.setattr("pairsim.train.fitters.projection.encode_part", lambda *a, **k: encoded.append(1))
    with pytest.raises(DataError, match=r"side a need at least two classes and a class with two items.*class_a"):
        ProjectionFitter(recipe).check(_model(), table)
    assert encoded == []


def test_a_class_column_given_alone_is_one_config_error(tmp_path: Path) -> None:
    root = _folder(tmp_path / "faces")
    with pytest.raises(ConfigError, match="set class_a and class_b together"):
        _pair_table(root, tmp_path, chained=True, class_a="ca")


def test_caption_data_gives_each_tower_its_own_sides_classes() -> None:
    """An untied model's towers fit on their own side: the captions of one image are one class; each image is a
    class of its own."""
    data = CaptionImages(images=["i0.png", "i1.png"], image_ids=["i0", "i1"],
                         captions=["a dog", "a dog runs", "a cat", "the cat sits"], caption_image=[0, 0, 1, 1])  # fmt: skip
    texts, images = data.class_items("a"), data.class_items("b")
    assert (texts.items, texts.labels, texts.modality) == (["a dog", "a dog runs", "a cat", "the cat sits"],
                                                          [0, 0, 1, 1], "text")  # fmt: skip
    assert (images.items, images.labels, images.modality) == (["i0.png", "i1.png"], [0, 1], "image")


def test_the_cohort_fills_from_a_pair_table(tmp_path: Path, make_model: Callable[..., PairModel]) -> None:
    """S-norm's cohort from a pair table: drawn from the distinct items of both sides."""
    from pairsim.data.types import PairTable

    model = make_model("lstm", head={"name": "cosine", "cohort": 3})
    table = PairTable(a=["a cat", "a dog", "a cat"], b=["the dog", "a bird", "a fish"], labels=[1.0, 0.0, 1.0])
    assert fill_cohort(model, table, seed=0, batch_size=4) == 3
    assert model.head.cohort_embeddings.abs().sum() > 0


def test_wccn_trains_from_a_pair_table_recipe(tmp_path: Path) -> None:
    """The route of the docs for image-pair CSVs: ``pair_table`` with ``train.fit.projection: wccn`` and
    ``train.epochs: 0`` runs end to end (it stopped with "wccn learns from classes ... got PairTable")."""
    root = _folder(tmp_path / "faces")
    rows = _table(root, chained=True)
    path = _write(root / "pairs.csv", rows)
    recipe = Recipe.from_dict({
        "model": {"tower": TIMM}, "loss": {"name": "contrastive"},
        "data": {"name": "pair_table", "path": str(path), "val_path": str(path), "test_path": str(path),
                 "drop_test_overlap": False, "column_a": "a", "column_b": "b", "modality": "image",
                 "cache_dir": str(tmp_path / "hf")},
        "train": {"epochs": 0, "batch_size": 8, "device": "cpu", "fit": {"projection": "wccn", "shrink": 0.3}},
        "eval": {"plots": False}, "output_dir": str(tmp_path / "run"),
    })  # fmt: skip
    metrics = Trainer(recipe, progress=False).run()
    assert 0.0 <= metrics["test"]["roc_auc"] <= 1.0
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_wccn_fits_a_text_towers_projection_from_a_text_pair_table(make_model: Callable[..., PairModel]) -> None:
    """A text pair table (paraphrases = 1): the transformer tower's projection learns from the paraphrase groups;
    it pulls each group's texts together (their cosine rises above the unfitted map's)."""
    from pairsim.data.types import PairTable

    groups = [["a cat sits", "the cat is sitting", "a cat sat down"], ["dogs run fast", "a dog is running",
              "the dogs ran"], ["it rains", "rain is falling", "it is raining"]]  # fmt: skip
    a = [g[i] for g in groups for i in (0, 1)] + [groups[0][0], groups[1][0]]
    b = [g[i] for g in groups for i in (1, 2)] + [groups[1][1], groups[2][1]]
    table = PairTable(a=a, b=b, labels=[1.0] * 6 + [0.0, 0.0])
    model = make_model("transformer", head={"name": "cosine"}).eval()
    texts = [t for g in groups for t in g]

    def within() -> float:
        with torch.no_grad():
            z = model.encode_a(texts)  # (9, D)
        sim = torch.nn.functional.normalize(z, dim=1) @ torch.nn.functional.normalize(z, dim=1).T  # (9, 9)
        same = torch.block_diag(*[torch.ones(3, 3)] * 3).bool() & ~torch.eye(9, dtype=torch.bool)
        return float(sim[same].mean() - sim[~same].mean())

    before = within()
    assert fit_projections(model, table, method="wccn", shrink=0.1, batch_size=16) == ["a"]
    assert within() > before
