"""``pairsim.fit``: a list, a DataFrame and a ``datasets.Dataset`` of MRPC pairs train, with one seed, to exactly
the metrics of the equivalent recipe (``pair_table`` on a CSV of the same rows) through the same trainer; the run
directory is the recipe's; settings are checked as a recipe's; a model object is copied, a saved model is
fine-tuned, a run resumes."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

import pairsim
from pairsim.data.sources.text_pairs import read_tsv
from pairsim.errors import ConfigError, DataError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.api import run_recipe, train_section

REPO = Path(__file__).resolve().parents[2]
LSTM = {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}
TINY = {"epochs": 1, "max_steps": 3, "batch_size": 8, "device": "cpu", "threads": 1, "log_every": 1}
QUIET_EVAL = {"plots": False, "pairs": 50}


def mrpc_rows(n: int = 160) -> list[tuple[str, str, int]]:
    data = Path(os.environ.get("PAIRSIM_DATA_DIR") or REPO.parent / "shared" / "data") / "mrpc"
    if not data.is_dir():
        pytest.skip("the MRPC files are not here (set PAIRSIM_DATA_DIR)")
    rows = read_tsv(data / "msr_paraphrase_train.txt", fields=5, where="mrpc", limit=n)
    return [(r[3], r[4], int(r[0])) for r in rows]


def fit_lstm(train: Any, out: Path, loss: str = "contrastive", **kwargs: Any) -> pairsim.train.api.FitResult:
    return pairsim.fit(LSTM, train, loss=loss, eval=QUIET_EVAL, output_dir=out, **{**TINY, **kwargs})


def test_list_dataframe_and_dataset_train_to_the_metrics_of_the_recipe(tmp_path: Path) -> None:
    import datasets

    rows = mrpc_rows()
    frame = pd.DataFrame(rows, columns=["sentence1", "sentence2", "label"])
    table = tmp_path / "pairs.csv"
    frame.to_csv(table, index=False, quoting=csv.QUOTE_NONNUMERIC)
    recipe = Recipe.from_dict({
        "model": {"tower": LSTM}, "loss": {"name": "contrastive"},
        "data": {"name": "pair_table", "path": str(table), "cache_dir": str(tmp_path / "hf")},
        "train": train_section(TINY), "eval": QUIET_EVAL, "output_dir": str(tmp_path / "recipe"),
    })  # fmt: skip
    expected = run_recipe(recipe, progress=False).metrics
    assert expected["steps"] == 3 and 0.0 < expected["test"]["roc_auc"] < 1.0
    for name, data in (("list", rows), ("frame", frame), ("dataset", datasets.Dataset.from_pandas(frame))):
        got = fit_lstm(data, tmp_path / name).metrics
        assert got["test"] == expected["test"], name
        assert got["history"] == expected["history"], name


def test_fit_writes_the_run_directory_and_returns_the_saved_model(tmp_path: Path) -> None:
    result = pairsim.fit(LSTM, mrpc_rows(120), loss={"name": "contrastive", "margin": 0.5}, output_dir=tmp_path / "run",
                         eval={"pairs": 50}, **TINY)  # fmt: skip
    out = tmp_path / "run"
    assert result.output_dir == out
    for name in ("model/config.json", "metrics.json", "recipe.yaml", "train.log", "plots/curves.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["test"] == result.metrics["test"]
    saved = Recipe.load(out / "recipe.yaml")
    assert saved.data.name == "in_memory" and saved.data.description.startswith("train: list of 120 tuple")
    assert saved.loss.margin == 0.5 and saved.train.schedule.max_steps == 3
    loaded = PairModel.from_pretrained(out / "model")
    a, b = ["how old are you"], ["what is your age"]
    assert torch.equal(loaded.score(a, b), result.model.score(a, b))
    assert loaded.config.threshold == result.model.config.threshold == result.metrics["test"]["threshold"]


def test_a_model_object_is_copied_and_a_saved_model_is_fine_tuned(tmp_path: Path) -> None:
    rows = mrpc_rows(120)
    first = fit_lstm(rows, tmp_path / "first")
    before = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = pairsim.fit(first.model, rows, loss="contrastive", eval=QUIET_EVAL, output_dir=tmp_path / "second",
                         **{**TINY, "lr": 0.05})  # fmt: skip
    assert all(torch.equal(v, first.model.state_dict()[k]) for k, v in before.items())  # the given model is unchanged
    assert any(not torch.equal(v, second.model.state_dict()[k]) for k, v in before.items())
    third = pairsim.fit(str(tmp_path / "first" / "model"), rows, eval=QUIET_EVAL, output_dir=tmp_path / "third",
                        **{**TINY, "lr": 0.05})  # fmt: skip
    assert (
        third.model.tower_a.tokenizer.stoi == first.model.tower_a.tokenizer.stoi
    )  # the saved model's vocabulary, not a new one
    assert third.metrics["test"] == second.metrics["test"]


def test_resume_and_early_stopping_work_as_from_a_recipe(tmp_path: Path) -> None:
    rows = mrpc_rows(120)
    settings = {**TINY, "max_steps": 0, "steps_per_epoch": 2}
    one = fit_lstm(rows, tmp_path / "run", **settings)
    assert one.metrics["steps"] == 2
    more = fit_lstm(rows, tmp_path / "run", resume=True, **{**settings, "epochs": 2})
    assert (
        more.metrics["steps"] == 4 and more.metrics["history"][: len(one.metrics["history"])] == one.metrics["history"]
    )
    stopped = fit_lstm(rows, tmp_path / "stop", lr=1e-9, early_stopping=1, **{**settings, "epochs": 5})
    assert stopped.metrics["steps"] < 10 and stopped.recipe.train.validation.early_stopping == 1


def test_settings_map_onto_the_train_section() -> None:
    assert train_section({"epochs": 2, "max_steps": 5, "early_stopping": 3, "optim": {"grad_clip": 0}}) == {
        "epochs": 2, "schedule": {"max_steps": 5}, "validation": {"early_stopping": 3}, "optim": {"grad_clip": 0},
    }  # fmt: skip
    assert train_section({"schedule": "cosine"}) == {"schedule": {"decay": "cosine"}}
    with pytest.raises(ConfigError, match=r"fit: schedule.warmup is given twice"):
        train_section({"warmup": 0.1, "schedule": {"warmup": 0.2}})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epoch": 2}, ConfigError, r"^fit: unknown setting 'epoch'; valid settings: .*batch_size, .*early_stopping, "
                                    r".*epochs, "),
        ({"epochs": -1}, ConfigError, r"^fit.train.epochs: .*-1"),
        ({"loss": "nope"}, ConfigError, r"fit.loss.name: .*nope.*contrastive"),
        ({"data": {"column_b": "question2"}}, DataError, r"^in_memory train: missing column 'question2'; found "
                                                         r"columns \['0', '1', '2'\] \(set column_b=<column>\)"),
        ({"data": {"colum_b": "x"}}, ConfigError, r"^fit.data: unknown key 'colum_b'; valid keys: .*column_b"),
        ({"eval": {"pair": 3}}, ConfigError, r"^fit.eval: unknown key 'pair'"),
    ],
)  # fmt: skip
def test_bad_settings_and_data_are_one_value_error(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    rows = [("a", "b", 1), ("c", "d", 0)] * 5
    with pytest.raises(error, match=message) as info:
        pairsim.fit(LSTM, rows, output_dir=tmp_path / "run", **kwargs)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    if error is ConfigError:  # checked before the run starts: nothing is written
        assert not (tmp_path / "run").exists()


def test_a_wrong_model_and_bad_rows_say_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fit: model is a int; expected a PairModel, a model config"):
        pairsim.fit(3, [("a", "b", 1)], output_dir=tmp_path / "run")
    with pytest.raises(DataError, match=r"^in_memory train: row 2, column '1': expected a text \(str\), found float"):
        pairsim.fit(LSTM, [("a", "b", 1), ("c", "d", 0), ("e", 0.5, 1)], output_dir=tmp_path / "run")


def test_positive_pairs_train_with_in_batch_negatives_and_are_verified_against_mismatched_pairs(tmp_path: Path) -> None:
    rows = [{"anchor": a, "positive": b} for a, b, label in mrpc_rows(200) if label == 1]
    result = fit_lstm(rows, tmp_path / "run", loss="infonce")
    assert result.recipe.loss.name == "infonce" and result.metrics["steps"] == 3
    assert 0.0 <= result.metrics["test"]["roc_auc"] <= 1.0 and result.metrics["test"]["positive_rate"] == 0.5
