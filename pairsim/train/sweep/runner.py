"""``pairsim sweep``: variants of a recipe under one total time budget, searched by Optuna, chosen on validation.

Each trial is an ordinary run directory (``OUTPUT_DIR/trials/NNN``, and ``NNN_seedS`` for further seeds) made by
the ordinary :class:`~pairsim.train.trainer.Trainer` with the trial's overrides; it is not evaluated on test. The
study lives in ``OUTPUT_DIR/sweep.journal`` (Optuna's journal file storage: an append-only local file, no server),
so ``--resume`` keeps every finished trial and runs again a trial that was killed half-way.

The budget counts from the command's start; 5% of it, and the expected time of the chosen trial's test evaluation
(the longest validation timed so far x test rows / val rows), are kept for that evaluation. Before each
trial the time left is compared with the mean time of the trials so far, and no trial is started that would not
fit; each trial gets the time left divided by the trials still planned (``--trials``, the grid's size, or 8) as its
deadline, counted from its start (and as ``train.time_budget`` where the recipe has that key), so the sweep ends
within its budget plus about 10% (the last validation and saving after a deadline).

Seeds: where validation is small (fewer than 200 pairs or items, or fewer than 10 classes) one run's validation
value says little, so each trial trains with 3 seeds (``train.seed``, +1, +2) and is judged on their mean; the
table shows mean ± sd. ``--seeds K`` / ``sweep.seeds`` set K.

Example:
    >>> summary = run_sweep("recipes/digits_pairs.yaml", tries=["train.lr=0.001,0.003"], budget="10m")  # doctest: +SKIP
    >>> summary["winner"]["params"]  # doctest: +SKIP
    {'train.lr': '0.003'}
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairsim.errors import ConfigError, PairsimError
from pairsim.evaluate import lower_is_better, primary_metric
from pairsim.recipe import Recipe, SweepConfig, TrainConfig
from pairsim.train.sweep.report import spread, write_report
from pairsim.train.sweep.space import SearchSpace, parse_budget

DEFAULT_PLANNED = 8  # trials the budget is shared among when neither --trials nor a grid says how many
SMALL_VAL = 200  # fewer validation pairs / items than this: several seeds per trial
FEW_CLASSES = 10  # fewer validation classes than this: several seeds per trial
AUTO_SEEDS = 3
# share of the budget kept for the chosen trial's test evaluation, beyond the longest validation timed so far times
# the test split's size over the validation split's (no trial spends either)
TEST_RESERVE = 0.05
JOURNAL = "sweep.journal"


class SweepError(PairsimError):
    """A sweep cannot go on (no trial finished, the output directory holds something else)."""


def seeds_for(val: Any) -> tuple[int, str]:
    """The training seeds per trial the rule gives for a validation split, and the rule's reason.

    Example:
        >>> from pairsim.data.types import LabelledItems
        >>> seeds_for(LabelledItems(items=list(range(300)), labels=[i % 4 for i in range(300)]))
        (3, 'val has 4 classes (< 10)')
    """
    labels = getattr(val, "labels", None)
    if type(val).__name__ == "LabelledItems" and labels is not None and len(set(labels)) < FEW_CLASSES:
        return AUTO_SEEDS, f"val has {len(set(labels))} classes (< {FEW_CLASSES})"
    if len(val) < SMALL_VAL:
        return AUTO_SEEDS, f"val has {len(val)} rows (< {SMALL_VAL})"
    classes = type(val).__name__ == "LabelledItems" and labels is not None
    return 1, f"val has {len(val)} rows" + (f", {len(set(labels))} classes" if classes else "")


def _say(message: str) -> None:
    print(f"pairsim sweep: {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class _Plan:
    """What every trial shares."""

    path: Path
    overrides: list[str]
    space: SearchSpace
    out: Path
    seeds: list[int]
    metric: str
    budget_s: float
    planned: int
    cap: int
    progress: bool
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # the recipe's data section (its splits: loaded)
    validation_s: float = 0.0  # the longest validation timed so far (a deadline leaves time for one)
    test_ratio: float = 1.0  # test rows / val rows: the winner's test takes about this many validations

    def left(self, spent: float) -> float:
        """Seconds trials may still use: the budget less what is spent and the winner's expected test time."""
        return self.budget_s - spent - self.validation_s * self.test_ratio


def run_sweep(
    recipe_path: str | Path, overrides: Sequence[str] = (), *, tries: Sequence[str] = (), budget: str | None = None,
    trials: int | None = None, seeds: int | None = None, resume: bool = False, progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) a sweep of a recipe and return its summary (as written to ``sweep.json``).

    Args:
        recipe_path: The recipe; its ``sweep`` section gives the space (and defaults for the rest).
        overrides: ``key=value`` overrides of every trial (``output_dir=...`` places the sweep).
        tries: ``key=v1,v2`` choices, added to (or replacing a key of) the recipe's ``sweep.space``.
        budget: Total wall time (``60m``, ``1.5h``, ``900s``); default the recipe's ``sweep.budget``.
        trials: At most this many trials (default ``sweep.trials``; 0: as the budget allows).
        seeds: Training seeds per trial (default ``sweep.seeds``; 0: the small-validation rule, :func:`seeds_for`).
        resume: Continue the sweep in the output directory (finished trials are kept).
        progress: Progress bars in the trials.

    Returns:
        The summary: trials with their values, minutes and states, the chosen trial and its test metrics.

    Raises:
        ConfigError: Bad input (unknown key, empty choices, budget spelling), before any training.
        SweepError: The output directory holds something else, or no trial completed.
    """
    started = time.monotonic()  # the budget counts from here: checks and data loading are part of it
    try:
        import optuna
    except ImportError:
        raise ConfigError("pairsim sweep needs Optuna: pip install 'pairsim[sweep]'") from None

    path = Path(recipe_path)
    base = Recipe.load(path, list(overrides))
    config = base.sweep or SweepConfig()
    if not (budget or config.budget):
        raise ConfigError(
            "--budget: expected the sweep's total time, e.g. --budget 60m (or sweep.budget in the recipe)"
        )
    budget_s = parse_budget(budget or config.budget, where="--budget" if budget else "sweep.budget")
    for name, value in (("--trials", trials), ("--seeds", seeds)):
        if value is not None and not 0 <= value <= (16 if name == "--seeds" else 10_000):
            raise ConfigError(f"{name}: expected 0 (auto) or a positive count, got {value}")
    space = SearchSpace.parse(config.space, tries)
    # trials skip the untrained step-0 validation (the same for every trial, and not worth its time; an override
    # can turn it back on)
    fixed = ["train.validation.at_start=false", *overrides, "sweep=null"]
    space.check(lambda extra: Recipe.load(path, [*fixed, *extra]))  # every value of every key, before training
    if config.sampler == "grid" and not space.all_choices():
        raise ConfigError("sweep.sampler: grid needs a list of choices for every key (a range has none)")
    out = Path(base.output_dir).expanduser()
    _check_output(out, resume)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the sweep says what happens in its own lines

    from pairsim.data import load_dataset

    splits = load_dataset(base.data)
    k = seeds if seeds is not None else config.seeds
    k, rule = (k, f"{k} set") if k else seeds_for(splits.val)
    cap = trials if trials is not None else config.trials
    grid = config.sampler == "grid" or (config.sampler == "auto" and space.all_choices())
    metric = base.train.validation.metric
    direction = "minimize" if metric != "auto" and lower_is_better(metric) else "maximize"
    sampler = (optuna.samplers.GridSampler(space.grid(), seed=0) if grid
               else optuna.samplers.RandomSampler(seed=0) if config.sampler == "random"
               else optuna.samplers.TPESampler(seed=0))  # fmt: skip
    pruner = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2),
              "halving": optuna.pruners.SuccessiveHalvingPruner,
              "none": optuna.pruners.NopPruner}[config.pruner]()  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / JOURNAL)))
    study = optuna.create_study(study_name="pairsim-sweep", storage=storage, sampler=sampler, pruner=pruner,
                                direction=direction, load_if_exists=True)  # fmt: skip
    signature = {p.key: [*p.edge_texts(), p.log] for p in space.params}
    if study.user_attrs.get("space", signature) != signature:
        raise ConfigError(
            f"--resume: the sweep in {out} searched another space; give the same sweep keys or another output_dir"
        )
    study.set_user_attr("space", signature)
    _requeue_killed(study, out)
    trial_budget = budget_s * (1 - TEST_RESERVE)
    plan = _Plan(path, fixed, space, out, [base.train.seed + i for i in range(k)], metric, trial_budget,
                 cap or space.grid_size() or DEFAULT_PLANNED, cap, progress, base.to_dict()["data"],
                 test_ratio=max(1.0, len(splits.test) / max(1, len(splits.val))))  # fmt: skip
    meta = {"recipe": str(path), "output_dir": str(out), "overrides": list(overrides), "budget_minutes": budget_s / 60, "seeds": k,
            "seed_rule": rule, "sampler": type(sampler).__name__, "pruner": type(pruner).__name__}  # fmt: skip
    clock = _loop(study, plan, grid, meta, started)
    return _finish(study, plan, meta, splits, clock)


def _check_output(out: Path, resume: bool) -> None:
    has_sweep = (out / JOURNAL).is_file()
    if resume and not has_sweep:
        raise ConfigError(f"--resume: {out} holds no sweep ({JOURNAL}) to resume; run without --resume")
    if not resume and has_sweep:
        raise ConfigError(
            f"output_dir {out} holds a sweep already; continue it with --resume or give another output_dir="
        )
    if not resume and out.is_dir() and any(out.iterdir()):
        raise ConfigError(
            f"output_dir {out} is not empty; give the sweep its own output_dir= (its trials go in trials/)"
        )


def _requeue_killed(study: Any, out: Path) -> None:
    """Trials a killed sweep left running (or an interrupted one left failed): their run directories removed,
    marked failed (noted ``killed``) and queued again with the same values, so ``--resume`` runs them again."""
    from optuna.trial import TrialState

    requeued = list(study.user_attrs.get("requeued", []))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.FAIL)):
        interrupted = trial.user_attrs.get("note", "").startswith("interrupted")
        if (trial.state == TrialState.FAIL and not interrupted) or trial.number in requeued:
            continue
        trials = (out / "trials").resolve()
        for run in map(Path, trial.user_attrs.get("run_dirs", [])):  # read from the journal: only our own trials/
            if run.parent.resolve() == trials and not run.is_symlink():
                shutil.rmtree(run, ignore_errors=True)
        if trial.state == TrialState.RUNNING:
            study.tell(trial.number, state=TrialState.FAIL)
        requeued.append(trial.number)
        study.set_user_attr("requeued", requeued)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        _say(f"trial {trial.number:03d} was killed half-way; it runs again")


def _spent(study: Any) -> float:
    return float(study.user_attrs.get("spent_seconds", 0.0))


class _Clock:
    """The sweep's time: what earlier sessions of it spent (``--resume``) plus this session's."""

    def __init__(self, study: Any, start: float) -> None:
        self.start, self.before = start, _spent(study)

    def spent(self) -> float:
        return self.before + time.monotonic() - self.start


def _done(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _next_fits(study: Any, plan: _Plan, clock: _Clock, grid: bool) -> bool:
    """Whether another trial should start: under the cap, grid not exhausted, and its expected time left."""
    from optuna.trial import TrialState

    done = _done(study)
    waiting = bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    left = plan.left(clock.spent())
    seconds = [t.user_attrs["seconds"] for t in done if "seconds" in t.user_attrs]
    estimate = sum(seconds) / len(seconds) if seconds else 0.0
    if plan.cap and len(done) >= plan.cap:
        _say(f"{len(done)} trials done (--trials {plan.cap})")
        return False
    if grid and not waiting and study.sampler.is_exhausted(study):
        _say(f"every one of the grid's {plan.space.grid_size()} variants is done")
        return False
    if left <= 0 or left < estimate:
        _say(f"{left / 60:.1f} min of the budget left, a trial takes about {estimate / 60:.1f} min: no further trial")
        return False
    return True


def _loop(study: Any, plan: _Plan, grid: bool, meta: dict[str, Any], started: float) -> _Clock:
    """Optuna's optimize loop; after each trial the table is written and the budget decides whether to go on."""
    from pairsim.train.trainer import TrainingError

    clock = _Clock(study, started)

    def after(study: Any, trial: Any) -> None:
        study.set_user_attr("spent_seconds", clock.spent())
        _write(study, plan, meta, winner=None)
        if not _next_fits(study, plan, clock, grid):
            study.stop()

    if _next_fits(study, plan, clock, grid):
        study.optimize(lambda trial: _run_trial(trial, study, plan, clock), callbacks=[after], catch=(TrainingError,))
    return clock


def _run_trial(trial: Any, study: Any, plan: _Plan, clock: _Clock) -> float:
    """Train one trial with each seed (pruned on the first seed's validations); return its mean validation value.

    Raises:
        optuna.TrialPruned: The pruner stopped it (its value so far is kept in the table).
        TrainingError: A seed's training failed (a NaN loss): the trial fails, the sweep goes on.
    """
    import optuna

    from pairsim.train.sweep.hooks import Deadline, PruneOnValidation
    from pairsim.train.trainer import Trainer, TrainingError

    share = plan.left(clock.spent()) / max(1, plan.planned - len(_done(study)))
    params = plan.space.suggest(trial)
    name = f"{trial.number:03d}"
    runs = [plan.out / "trials" / (name if i == 0 else f"{name}_seed{s}") for i, s in enumerate(plan.seeds)]
    trial.set_user_attr("run_dirs", [str(r) for r in runs])
    per_seed = share / len(plan.seeds)
    _say(f"trial {name}: {' '.join(params)} ({len(plan.seeds)} seed(s), at most {share / 60:.1f} min)")
    values, pruned, tick, metric = [], False, time.monotonic(), plan.metric
    # train.time_budget (at least 0.1 minutes) where the recipe has it: each run plans its schedule to end in time
    budgeted = "time_budget" in {f.name for f in dataclasses.fields(TrainConfig)} and per_seed >= 6

    def record(note: str = "") -> float | None:
        seconds = time.monotonic() - tick
        mean, sd = spread(values)
        for key, item in {"values": values, "seconds": seconds, "metric": metric, "end_at": clock.spent(),
                          "val_mean": mean, "val_sd": sd, "note": note}.items():  # fmt: skip
            trial.set_user_attr(key, item)
        return mean

    for i, (seed, run) in enumerate(zip(plan.seeds, runs, strict=True)):
        extra = [*params, f"train.seed={seed}", f"output_dir={run}"]
        if budgeted:
            extra.append(f"train.time_budget={per_seed / 60:.4f}")
        recipe = Recipe.load(plan.path, [*plan.overrides, *extra])
        prune = PruneOnValidation(trial, plan.metric) if i == 0 else None
        # with train.time_budget the run plans itself; the deadline is then only a safety net
        deadline = Deadline(per_seed * 1.1, 0.0) if budgeted else Deadline(per_seed, plan.validation_s)
        hooks = [deadline, *([prune] if prune else [])]
        try:
            metrics = Trainer(recipe, overwrite=True, progress=plan.progress, callbacks=hooks, test=False).run()
        except TrainingError as err:  # a diverging variant (NaN loss) is a failed trial, not a failed sweep
            record(str(err).split(";")[0])
            _say(f"trial {name} failed: {str(err).split(';')[0]}")
            raise
        except KeyboardInterrupt:  # Optuna marks it failed; --resume runs it again
            record("interrupted; --resume runs it again")
            raise
        plan.validation_s = max(plan.validation_s, deadline.validation_s)
        value, metric = _val_value(metrics, run, recipe)
        values.append(value)
        if prune and prune.pruned:
            pruned = True
            break
    mean = record()
    if mean is None:
        raise TrainingError(f"trial {name}: no validation value")
    if pruned:
        _say(f"trial {name} pruned: val {metric} {mean:.4f} ({(time.monotonic() - tick) / 60:.2f} min)")
        raise optuna.TrialPruned()
    shown_sd = f" ± {spread(values)[1]:.4f}" if len(values) > 1 else ""
    _say(f"trial {name} done: val {metric} {mean:.4f}{shown_sd} ({(time.monotonic() - tick) / 60:.2f} min)")
    return mean


def _val_value(metrics: dict[str, Any], run: Path, recipe: Recipe) -> tuple[float | None, str]:
    """The run's validation value (that of its saved best model) and the metric's name."""
    history = [e for e in metrics["history"] if any(k.startswith("val_") for k in e)]
    if metrics["best_val"] is not None and history:
        vals = {k.removeprefix("val_"): v for k, v in history[-1].items() if k.startswith("val_")}
        return float(metrics["best_val"]), primary_metric(vals, recipe.train.validation.metric)
    # no validation ran (train.epochs 0, or validation off): the saved model measured on val now
    from pairsim.data import load_dataset
    from pairsim.evaluate import evaluate_split
    from pairsim.model import PairModel

    model = PairModel.from_pretrained(run / "model")
    val = evaluate_split(model, load_dataset(recipe.data).val, recipe.eval, split="val", calibrate=True)[0]
    name = primary_metric(val, recipe.train.validation.metric)
    return float(val[name]), name


def _rows(study: Any, plan: _Plan) -> list[dict[str, Any]]:
    rows, requeued = [], study.user_attrs.get("requeued", [])
    for t in study.get_trials(deepcopy=False):
        if t.state.name in ("WAITING", "RUNNING"):
            continue
        a = t.user_attrs
        rows.append({"trial": t.number, "params": {p.key: str(t.params.get(p.key, "-")) for p in plan.space.params},
                     "val_mean": a.get("val_mean"), "val_sd": a.get("val_sd"), "values": a.get("values", []),
                     "minutes": a.get("seconds", 0.0) / 60, "end_minutes": a.get("end_at", 0.0) / 60,
                     "state": t.state.name.lower(), "run_dirs": a.get("run_dirs", []),
                     "note": "killed; run again" if t.number in requeued else a.get("note", "")})  # fmt: skip
    return rows


def _write(study: Any, plan: _Plan, meta: dict[str, Any], winner: dict[str, Any] | None) -> dict[str, Any]:
    rows = _rows(study, plan)
    metric = next((r for t in study.get_trials(deepcopy=False) if (r := t.user_attrs.get("metric"))), plan.metric)
    summary = {**meta, "spent_minutes": _spent(study) / 60, "metric": metric,
               "lower_is_better": study.direction.name == "MINIMIZE", "keys": [p.key for p in plan.space.params],
               "trials": rows, "winner": winner}  # fmt: skip
    write_report(summary, plan.out)
    return summary


def _finish(study: Any, plan: _Plan, meta: dict[str, Any], splits: Any, clock: _Clock) -> dict[str, Any]:
    """Choose the best completed trial on validation, evaluate its runs (and only them) on test, write the table."""
    complete = [r for r in _rows(study, plan) if r["state"] == "complete" and r["val_mean"] is not None]
    if not complete:
        _write(study, plan, meta, winner=None)
        raise SweepError(f"no trial completed within the budget; the trials are listed in {plan.out / 'sweep.md'}")
    lower = study.direction.name == "MINIMIZE"
    best = min(complete, key=lambda r: r["val_mean"] if lower else -r["val_mean"])
    tests = [_test_run(Path(run), splits, plan.data) for run in best["run_dirs"][: len(best["values"])]]
    test = {k: dict(zip(("mean", "sd"), spread([t[k] for t in tests]), strict=True))
            for k, v in tests[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}  # fmt: skip
    winner = {**best, "test": test, "test_runs": tests}
    study.set_user_attr("spent_seconds", clock.spent())  # the test evaluation counts too
    summary = _write(study, plan, meta, winner=winner)
    _say(f"chosen: trial {best['trial']:03d}; table in {plan.out / 'sweep.md'}, figure in {plan.out / 'sweep.png'}")
    return summary


def _test_run(run: Path, splits: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The test metrics of one run of the chosen trial, written into its ``metrics.json`` and plots."""
    import json

    from pairsim.data import build_source, load_dataset
    from pairsim.evaluate import evaluate_split, save_eval_plots, save_graded_plot
    from pairsim.metrics import write_json
    from pairsim.model import PairModel

    recipe = Recipe.load(run / "recipe.yaml")
    if recipe.to_dict()["data"] != data:  # a swept data key: this trial's own splits
        splits = load_dataset(recipe.data)
    model = PairModel.from_pretrained(run / "model")
    test, details = evaluate_split(model, splits.test, recipe.eval, split="test", calibrate=False,
                                   source=build_source(recipe.data))  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    write_json({**metrics, "test": test}, run / "metrics.json")
    if recipe.eval.plots:
        save_eval_plots(model, details, run / "plots", prefix="test")
        save_graded_plot(model, details, run / "plots", prefix="test")
    return test
