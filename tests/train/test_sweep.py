"""``pairsim sweep`` (pairsim/train/sweep): a planted better variant is chosen on validation and alone tested, a
killed sweep resumes keeping its finished trials, bad input is one line before any training, and the few-class
choices are ordinary sweep keys."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from pairsim.cli import main
from pairsim.data.types import LabelledItems, PairTable
from pairsim.errors import ConfigError
from pairsim.recipe import Recipe
from pairsim.train.callbacks import Callback
from pairsim.train.sweep import runner
from pairsim.train.sweep.hooks import Deadline
from pairsim.train.sweep.space import SearchSpace, parse_budget, split_choices
from pairsim.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"
# lr 1e-9 cannot move the weights: that variant's validation is the untrained model's, the other one learns
PLANTED = ["--try", "train.lr=1e-9,0.01", "--seeds", "1", "--budget", "10m"]


@pytest.fixture
def sweep_argv(digits_argv: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """``sweep_argv(output_dir, *options)``: ``pairsim sweep`` on the tiny digits recipe."""

    def make(output_dir: Path, *options: str) -> list[str]:
        train = digits_argv(output_dir, "eval.pairs=200")
        return ["sweep", *[a for a in train[1:] if a != "--no-progress"], *options]

    return make


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "sweep.json").read_text())


def test_sweep_picks_the_planted_better_variant_and_tests_only_it(
    tmp_path: Path, sweep_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    assert main(sweep_argv(out, *PLANTED)) == 0
    summary = _summary(out)
    rows = {r["params"]["train.lr"]: r for r in summary["trials"]}
    assert set(rows) == {"1.0e-09", "0.01"} and all(r["state"] == "complete" for r in rows.values())
    assert rows["0.01"]["val_mean"] > rows["1.0e-09"]["val_mean"]
    assert summary["winner"]["params"] == {"train.lr": "0.01"} and summary["metric"] == "roc_auc"
    # each trial is an ordinary run directory; only the chosen one was evaluated on test
    for row in rows.values():
        run = Path(row["run_dirs"][0])
        assert run.parent == out / "trials" and (run / "model" / "config.json").is_file()
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["best_val"] == pytest.approx(row["val_mean"])
        assert (metrics["test"] is not None) == (row is rows["0.01"])
        assert Recipe.load(run / "recipe.yaml").train.lr == float(row["params"]["train.lr"])
    assert summary["winner"]["test"]["roc_auc"]["mean"] == pytest.approx(
        json.loads((out / "trials" / f"{rows['0.01']['trial']:03d}" / "metrics.json").read_text())["test"]["roc_auc"]
    )
    table = (out / "sweep.md").read_text()
    assert "| train.lr | val roc_auc (mean ± sd) | minutes | state |" in table
    assert table.count("| complete |") == 2 and "**(chosen)** | 0.01 |" in table
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chosen: trial" in capsys.readouterr().out


def test_resume_after_a_kill_keeps_finished_trials(
    tmp_path: Path, sweep_argv: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sweep"
    real_run, calls = Trainer.run, []

    def killed_second(self: Trainer) -> dict[str, Any]:
        calls.append(self.recipe.train.lr)
        if len(calls) == 2:  # the sweep is killed half-way through its second trial
            raise KeyboardInterrupt
        return real_run(self)

    monkeypatch.setattr(Trainer, "run", killed_second)
    assert main(sweep_argv(out, *PLANTED)) == 130
    first = out / "trials" / "000" / "metrics.json"
    kept = first.read_bytes()
    assert not (out / "sweep.json").read_text().count('"state": "complete"') > 1

    monkeypatch.setattr(Trainer, "run", real_run)
    ran: list[float] = []
    monkeypatch.setattr(Trainer, "run", lambda self: (ran.append(self.recipe.train.lr), real_run(self))[1])
    assert main(sweep_argv(out, *PLANTED, "--resume")) == 0
    assert ran == [calls[1]]  # only the killed variant trained again; trial 000 was reused as it was
    summary = _summary(out)
    states = [(r["trial"], r["state"], r["note"]) for r in summary["trials"]]
    assert states == [(0, "complete", ""), (1, "fail", "killed; run again"), (2, "complete", "")]
    assert summary["trials"][2]["params"] == summary["trials"][1]["params"]
    assert summary["winner"]["params"] == {"train.lr": "0.01"}
    assert json.loads(kept)["best_val"] == json.loads(first.read_bytes())["best_val"]
    assert not (out / "trials" / "001").exists() and (out / "trials" / "002" / "model").is_dir()


def test_a_trial_left_running_by_a_killed_process_is_queued_again(tmp_path: Path) -> None:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j")))
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.GridSampler({"train.lr": ["a", "b"]}))
    trial = study.ask()
    lr = trial.suggest_categorical("train.lr", ["a", "b"])
    trial.set_user_attr("run_dirs", [str(tmp_path / "trials" / "000")])
    (tmp_path / "trials" / "000").mkdir(parents=True)
    runner._requeue_killed(study, tmp_path)  # the process died: the trial is still RUNNING in the journal
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == {} and study.user_attrs["requeued"] == [0]
    assert study.ask().suggest_categorical("train.lr", ["a", "b"]) == lr  # the waiting trial has the same value
    assert not (tmp_path / "trials" / "000").exists()


@pytest.mark.parametrize(
    ("overrides", "options", "expected"),
    [
        ([], ["--try", "train.lrr=0.1,0.2", "--budget", "5m"], "sweep key train.lrr=0.1: "),
        ([], ["--try", "train.lr=-1,0.1", "--budget", "5m"], "sweep key train.lr=-1: "),
        ([], ["--try", "train.lr=", "--budget", "5m"], "--try 'train.lr=': expected key=v1,v2"),
        (["sweep={space: {train.lr: []}}"], ["--budget", "5m"], "sweep.space.train.lr: expected at least one choice"),
        ([], ["--try", "train.lr=0.1,0.2", "--budget", "60x"], "--budget: expected a time such as 60m"),
        ([], ["--try", "train.lr=0.1,0.2"], "--budget: expected the sweep's total time"),
        ([], ["--budget", "5m"], "nothing to sweep"),
    ],
)
def test_bad_input_is_one_line_before_any_training(
    tmp_path: Path,
    sweep_argv: Callable[..., list[str]],
    capsys: pytest.CaptureFixture[str],
    overrides: list[str],
    options: list[str],
    expected: str,
) -> None:
    out = tmp_path / "sweep"
    argv = sweep_argv(out)
    assert main([*argv[:2], *overrides, *argv[2:], *options]) == 2  # overrides right after the recipe
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pairsim: error: ") and expected in err
    assert not out.exists()


def test_few_class_choices_are_ordinary_sweep_keys() -> None:
    space = SearchSpace.parse(
        {
            "train.fit_projection": ["none", "wccn"],  # the old name of train.fit.projection
            "model.head": [{"name": "cosine"}, {"name": "cosine", "cohort": 20}],
            "model.tower.mirror_average": [False, True],
            "train.tower.freeze": [False, True],
            "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
        }
    )
    space.check(lambda extra: Recipe.load(DIGITS, extra))
    assert not space.all_choices()
    params = {"train.fit_projection": "wccn", "model.head": "{name: cosine, cohort: 20}",
              "model.tower.mirror_average": "true", "train.tower.freeze": "true", "train.lr": 0.003}  # fmt: skip
    recipe = Recipe.load(DIGITS, space.suggest(optuna.trial.FixedTrial(params)))
    assert recipe.train.fit.projection == "wccn" and recipe.model.head.cohort == 20
    assert recipe.model.tower.mirror_average is True and recipe.train.tower.freeze is True
    assert recipe.train.lr == 0.003
    assert space.grid_size() == 0
    grid = SearchSpace.parse(
        {"train.fit.projection": ["none", "wccn"]}, ["model.head={name: cosine},{name: euclidean}"]
    )
    assert grid.grid() == {
        "train.fit.projection": ["none", "wccn"],
        "model.head": ["{name: cosine}", "{name: euclidean}"],
    }
    with pytest.raises(ConfigError, match=r"sweep key model\.head=.*cohort"):
        SearchSpace.parse({"model.head": [{"name": "euclidean", "cohort": 2}]}).check(
            lambda extra: Recipe.load(DIGITS, extra)
        )


def test_budget_choices_and_seed_rule() -> None:
    assert [parse_budget(t) for t in ("60m", "1.5h", "900s", "20", "2min")] == [3600, 5400, 900, 1200, 120]
    for bad in ("", "0m", "m", "-5m", "1d", "8 days"):
        with pytest.raises(ConfigError, match="--budget"):
            parse_budget(bad)
    assert split_choices("[1, 2],{a: 1, b: 'x,y'},3") == ["[1, 2]", "{a: 1, b: 'x,y'}", "3"]
    few = LabelledItems(items=list(range(500)), labels=[i % 6 for i in range(500)])
    many = LabelledItems(items=list(range(500)), labels=[i % 40 for i in range(500)])
    small = LabelledItems(items=list(range(150)), labels=[i % 40 for i in range(150)])
    assert runner.seeds_for(few)[0] == 3 and runner.seeds_for(small)[0] == 3 and runner.seeds_for(many)[0] == 1
    pairs = PairTable(a=["a"] * 120, b=["b"] * 120, labels=[1.0, 0.0] * 60)
    assert runner.seeds_for(pairs) == (3, "val has 120 rows (< 200)")


def test_no_trial_starts_that_the_budget_left_cannot_hold(tmp_path: Path) -> None:
    study = optuna.create_study(direction="maximize")
    for seconds in (100.0, 140.0):  # two finished trials: about 2 minutes each
        study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"seconds": seconds}))
    space = SearchSpace.parse({"train.lr": {"low": 1e-4, "high": 1e-2}})
    plan = runner._Plan(DIGITS, [], space, tmp_path, [0], "auto", 600.0, 8, 0, False)
    clock = runner._Clock(study, start=time.monotonic())
    clock.before = 600.0 - 130.0  # 130 s left, a trial takes 120 s on average: one more fits
    assert runner._next_fits(study, plan, clock, grid=False)
    clock.before = 600.0 - 110.0  # 110 s left: none
    assert not runner._next_fits(study, plan, clock, grid=False)
    plan.validation_s, plan.test_ratio = 10.0, 4.0  # 130 s left, but the winner's test takes about 40 s of it
    clock.before = 600.0 - 130.0
    assert not runner._next_fits(study, plan, clock, grid=False)
    plan.validation_s, plan.cap, clock.before = 0.0, 2, 0.0  # --trials 2 reached
    assert not runner._next_fits(study, plan, clock, grid=False)


def test_deadline_ends_a_run_after_its_first_step(tmp_path: Path, digits_recipe: Callable[..., Recipe]) -> None:
    class Steps(Callback):
        seen = 0

        def on_step(self, trainer: Any, **kwargs: Any) -> None:
            Steps.seen += 1

    metrics = Trainer(digits_recipe(), progress=False, callbacks=[Steps(), Deadline(seconds=0.0)], test=False).run()
    assert metrics["steps"] == 1 and Steps.seen == 1 and metrics["test"] is None
    assert metrics["best_val"] is not None  # the epoch's end validation still ran and picked the model


SWEPT = [p for p in sorted((REPO / "recipes").glob("*.yaml")) if "\nsweep:" in p.read_text(encoding="utf-8")]


def test_some_shipped_recipe_has_a_sweep_section() -> None:
    assert SWEPT, "no shipped recipe shows a sweep: section"


@pytest.mark.parametrize("recipe", SWEPT, ids=lambda p: p.stem)
def test_shipped_sweep_sections_load_every_variant(recipe: Path) -> None:
    config = Recipe.load(recipe).sweep
    assert config is not None
    space = SearchSpace.parse(config.space)
    space.check(lambda extra: Recipe.load(recipe, ["sweep=null", *extra]))
    assert space.grid_size() >= 2
