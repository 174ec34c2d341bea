"""The trainer reaches every fitter through the same three hooks and knows none by name (pairsim/train/fitters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pairsim.errors import DataError
from pairsim.recipe import Recipe
from pairsim.train.fitters import FITTERS, Fitter, build_fitters
from pairsim.train.trainer import Trainer


def _toy(calls: list[str], *, fail: bool = False) -> type[Fitter]:
    class Toy(Fitter):  # a new fitter is its file plus its registration
        @classmethod
        def applies(cls, model: Any, recipe: Any) -> bool:
            return True

        def check(self, model: Any, train: Any) -> None:
            calls.append("check")
            if fail:
                raise DataError("toy: cannot fit this split")

        def fit(self, model: Any, train: Any) -> None:
            calls.append("fit")

        def refresh(self, model: Any, train: Any) -> None:
            calls.append("refresh")

    return Toy


def test_a_registered_fitter_is_checked_fitted_and_refreshed_before_each_validation(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setitem(FITTERS._entries, "toy", _toy(calls))
    recipe = digits_recipe("train.epochs=2", "train.validation.at_start=false")
    Trainer(recipe, progress=False).run()
    history = json.loads((Path(recipe.output_dir) / "metrics.json").read_text())["history"]
    validations = sum("val_roc_auc" in entry for entry in history)
    assert validations == 2
    assert calls == ["check", "fit", *["refresh"] * validations]


def test_a_failing_check_stops_the_run_before_any_fitting_or_training(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setitem(FITTERS._entries, "toy", _toy(calls, fail=True))
    recipe = digits_recipe()
    with pytest.raises(DataError, match="toy: cannot fit this split"):
        Trainer(recipe, progress=False).run()
    assert calls == ["check"] and not (Path(recipe.output_dir) / "model").exists()


def test_only_the_fitters_a_run_asks_for_apply(digits_recipe: Callable[..., Recipe]) -> None:
    from pairsim.model import PairModel

    plain = digits_recipe()
    assert build_fitters(PairModel.from_config(plain.model), plain) == []
    snorm = digits_recipe("model.head={name: cosine, cohort: 10}")
    assert [type(f).__name__ for f in build_fitters(PairModel.from_config(snorm.model), snorm)] == ["CohortFitter"]
