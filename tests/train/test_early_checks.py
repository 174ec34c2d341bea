"""Every check that can fail runs before any fitting or training (issue 24): evaluation settings the splits cannot
meet, rows the training split cannot give, what a fitter needs, the data's filters. Each case is one line (exit 2
from the command line) and the fitter and the training loop were never called."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pairsim.cli import main
from pairsim.errors import PairsimError
from pairsim.recipe import Recipe
from pairsim.train.fitters.projection import ProjectionFitter
from pairsim.train.trainer import Trainer

# a timm tower whose projection the wccn fitter can set (random init), as in tests/train/test_fit.py
WCCN = [
    "model.tower={name: timm, image_size: [32, 32], stage: 1, grid: 2, out_dim: 96}",
    "model.head={name: cosine}",
    "loss={name: contrastive, margin: 0.5}",
    "train.fit.projection=wccn",
]


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ran of the expensive work: ``fit`` (the wccn fitter) and ``train`` (the training loop)."""
    calls: list[str] = []
    monkeypatch.setattr(ProjectionFitter, "fit", lambda self, model, train: calls.append("fit"))
    monkeypatch.setattr(Trainer, "_train", lambda self, rt: calls.append("train"))
    return calls


def test_the_reference_case_fits_and_trains(digits_recipe: Callable[..., Recipe], work: list[str]) -> None:
    """The patched run itself reaches the fit and the loop: the cases below fail before them, not around them."""
    Trainer(digits_recipe(*WCCN), progress=False).run()
    assert work == ["fit", "train"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # the case: 5-way episodes on a validation split of two held-out digits
        (["data.split_by=class", "eval.episodes=20", "eval.n_way=5"],
         r"eval\.n_way: 5-way one-shot episodes \(eval\.episodes: 20\) cannot be drawn from the val split \(2 classes\)"),
        (["eval.metrics=[retrieval]"], r"eval\.metrics: 'retrieval' does not apply to LabelledItems data"),
        (["eval.metrics=[nonsense]"], r"unknown metric group 'nonsense'"),
        (["data.split_by=class", "data.val_classes=[6]", "eval.episodes=0"],
         r"eval: verification pairs of the val split: only one class"),
        (["sampler={name: triplets}"], r"sampler 'triplets' makes rows of sides"),
        (["train.batch_size=100000"], r"give no full batch of 100000"),
        (["train.fit.views=2"], r"train\.fit\.views: 2 augmented views need the timm tower's augment"),
        # two training digits (~360 images) against 384 trunk features (a 4x4 grid of 24 channels)
        (["train.fit.shrink=0", "model.tower.grid=4", "model.tower.out_dim=384", "data.split_by=class",
          "data.val_classes=[0, 1, 2, 3, 4]", "data.test_classes=[5, 6, 7]"],
         r"train\.fit\.shrink: 0 needs more items than classes plus features"),
    ],
    ids=["episodes", "metric-group", "unknown-group", "pairs", "sampler", "batch", "fit-views", "fit-shrink"],
)  # fmt: skip
def test_a_failing_check_stops_before_any_fitting_or_training(
    digits_recipe: Callable[..., Recipe], work: list[str], overrides: list[str], message: str
) -> None:
    recipe = digits_recipe(*WCCN, *overrides)
    with pytest.raises(PairsimError, match=message):
        Trainer(recipe, progress=False).run()
    assert work == []
    assert not (Path(recipe.output_dir) / "model").exists()


def test_a_filter_past_its_limit_stops_before_any_fitting(
    tmp_path: Path, digits_argv: Callable[..., list[str]], work: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``drop_test_overlap`` removing most training pairs: one line, exit 2, nothing fitted."""
    rows = "sentence1,sentence2,label\n" + "".join(f"s{i},t{i},{i % 2}\n" for i in range(10))
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "held.csv").write_text(rows)  # every training pair shares its sentences with the held-out tables
    data = (f"data={{name: pair_table, path: {tmp_path / 'train.csv'}, val_path: {tmp_path / 'held.csv'}, "
            f"test_path: {tmp_path / 'held.csv'}, cache_dir: {tmp_path / 'hf'}}}")  # fmt: skip
    assert main([*digits_argv(tmp_path / "run", *WCCN, data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pairsim: error: pair_table") and "drop_test_overlap removed 10 of 10" in err[-1]
    assert work == []
