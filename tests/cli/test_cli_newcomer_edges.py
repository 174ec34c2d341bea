"""A newcomer's edges of the command line (issue 24): ``key=value`` overrides after options, a warning when a saved
threshold came from other data (and ``--recalibrate``), a frozen model evaluated without the training split's
filters, and ``--threads`` on every command that runs a model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from pairsim.cli import build_parser, main
from pairsim.cli.args import runtime_threads
from pairsim.data import load_dataset
from pairsim.data.fingerprint import calibration_record

REPO = Path(__file__).resolve().parents[2]


def _copy(trained: tuple[Path, object], tmp_path: Path) -> Path:
    """The tiny trained digits run, copied (eval writes next to the model by default)."""
    out, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("checkpoints", "plots"))
    return copy


# -- overrides after options -------------------------------------------------------------------------------------
def test_overrides_may_follow_options(trained: tuple[Path, object], cli: Callable[..., Any], tmp_path: Path) -> None:
    run = _copy(trained, tmp_path)
    result = cli("eval", run / "model", run / "recipe.yaml", "--split", "val", "eval.pairs=30", "--out",
                 tmp_path / "e", "eval.plots=false")  # fmt: skip
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["n_pairs"] == 30 and sorted(p.name for p in (tmp_path / "e").iterdir()) == ["metrics.json"]


def test_overrides_after_options_keep_their_order_and_other_leftovers_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(["train", "r.yaml", "a=1", "--no-progress", "b=2", "a=3"])
    from pairsim.cli import late_overrides

    late_overrides(parser, args, extra)
    assert args.overrides == ["a=1", "b=2", "a=3"]
    for argv, left in (
        (["train", "r.yaml", "--no-progress", "--bogus", "a=1"], "--bogus"),
        (["score", "a.txt", "b.txt", "--model", "m", "x=1"], "x=1"),
    ):  # score takes no overrides
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and f"unrecognized arguments: {left} " in capsys.readouterr().err


# -- a threshold calibrated on other data --------------------------------------------------------------------------
def test_a_trained_model_records_the_validation_split_of_its_threshold(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())["model"]
    recipe = yaml.safe_load((model_dir.parent / "recipe.yaml").read_text())
    val = load_dataset(recipe["data"]).val
    assert config["threshold"] is not None
    assert config["threshold_data"] == calibration_record("digits", "val", val)
    assert config["threshold_data"].startswith("digits val sha256:")


def test_eval_warns_when_the_threshold_came_from_other_data_and_recalibrates_on_request(
    trained: tuple[Path, object], cli: Callable[..., Any], tmp_path: Path
) -> None:
    run = _copy(trained, tmp_path)
    stored = json.loads((run / "model" / "config.json").read_text())["model"]
    quiet = ["eval.plots=false", "eval.pairs=40"]
    same = cli("eval", run / "model", *quiet, "--out", tmp_path / "same")
    assert same.code == 0, same.err
    assert "warning" not in same.err  # the recipe it was trained with: the same validation split

    other = cli("eval", run / "model", *quiet, "data.seed=1", "--out", tmp_path / "other")
    assert other.code == 0, other.err
    warning = [line for line in other.err.splitlines() if line.startswith("pairsim: warning:")]
    assert len(warning) == 1 and stored["threshold_data"] in warning[0]
    assert "calibrated on other data" in warning[0] and "--recalibrate" in warning[0]
    assert json.loads((tmp_path / "other" / "metrics.json").read_text())["threshold"] == stored["threshold"]

    again = cli("eval", run / "model", *quiet, "data.seed=1", "--recalibrate", "--out", tmp_path / "again")
    assert again.code == 0, again.err
    assert "warning" not in again.err
    recalibrated = json.loads((tmp_path / "again" / "metrics.json").read_text())["threshold"]
    assert recalibrated != stored["threshold"]
    assert json.loads((run / "model" / "config.json").read_text())["model"] == stored  # the model is unchanged


# -- a frozen model and the training split's filters -------------------------------------------------------------
def _overlapping_recipe(tmp_path: Path) -> Path:
    """A text-pair recipe whose training table shares every sentence with its test table: ``drop_test_overlap``
    removes all training pairs (training stops on it; evaluating a frozen model need not)."""
    rows = "sentence1,sentence2,label\n" + "".join(
        f"the {w} sleeps,a {w} is sleeping,1\nthe {w} runs,a {v} swims,0\n"
        for w, v in zip(["cat", "dog", "cow", "owl", "elk", "yak"], ["fish", "duck", "frog", "bee", "ant", "emu"], strict=True)
    )  # fmt: skip
    for name in ("train", "val", "test"):
        (tmp_path / f"{name}.csv").write_text(rows)
    (tmp_path / "val.csv").write_text(rows.replace("sleeps", "naps"))
    recipe = {
        "model": {"tower": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}, "head": {"name": "cosine"}},
        "loss": {"name": "contrastive"},
        "data": {"name": "pair_table", "path": str(tmp_path / "train.csv"), "val_path": str(tmp_path / "val.csv"),
                 "test_path": str(tmp_path / "test.csv"), "cache_dir": str(tmp_path / "hf")},
        "train": {"device": "cpu"}, "eval": {"plots": False}, "output_dir": str(tmp_path / "out"),
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_frozen_model_is_evaluated_without_the_training_splits_filters(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    recipe = _overlapping_recipe(tmp_path)
    trains = cli("train", recipe, "--no-progress")
    assert trains.code == 2 and "drop_test_overlap removed 12 of 12 train pairs" in trains.err  # the filter works
    result = cli("eval", "--untrained", recipe)
    assert result.code == 0, result.err
    assert "training split's filters are not applied (data.drop_test_overlap)" in result.err
    assert "drop_test_overlap removed" not in result.err
    assert json.loads((tmp_path / "out" / "eval-untrained" / "metrics.json").read_text())["n_pairs"] == 12


# -- --threads on every command that runs a model ------------------------------------------------------------------
MODEL_COMMANDS = {
    "score": ["a.txt", "b.txt", "--model", "m"],
    "encode": ["a.txt", "--model", "m", "--out", "e.npy"],
    "enroll": ["people", "--model", "m", "--gallery", "g.safetensors"],
    "identify": ["p.png", "--model", "m", "--gallery", "g.safetensors"],
    "serve": ["m"],
    "export": ["m", "--format", "onnx", "--out", "x"],
}


@pytest.mark.parametrize("command", sorted(MODEL_COMMANDS))
def test_threads_reaches_torch_for_every_command_that_runs_a_model(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--threads N`` holds for the whole command (the command's own work replaced by a probe) and is restored."""
    seen: list[int] = []
    parser = build_parser()
    action = next(a for a in parser._subparsers._group_actions if a.dest == "command")  # type: ignore[union-attr]
    sub = action.choices[command]
    monkeypatch.setattr(sub, "_defaults", {**sub._defaults, "run": lambda args: seen.append(torch.get_num_threads())})
    monkeypatch.setattr("pairsim.cli.build_parser", lambda: parser)
    before = torch.get_num_threads()
    n = 3 if before != 3 else 2
    assert main([command, *MODEL_COMMANDS[command], "--threads", str(n)]) == 0
    assert seen == [n] and torch.get_num_threads() == before
    with pytest.raises(SystemExit) as stop:  # argparse's one usage line
        main([command, *MODEL_COMMANDS[command], "--threads", "-1"])
    assert stop.value.code == 2


def test_score_with_threads_runs(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[[str, list[str]], Path], cli: Callable[..., Any]
) -> None:
    a = write_lines("a.txt", [d.path for d in digit_pngs[:4]])
    b = write_lines("b.txt", [d.path for d in digit_pngs[4:8]])
    result = cli("score", a, b, "--model", model_dir, "--threads", "1")
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 5


def test_threads_reaches_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The onnx backend gets ``--threads`` as onnxruntime's intra-op threads (0: the default count of torch's)."""
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.export import onnx_runtime
    from pairsim.train.threads import default_threads

    seen: list[Any] = []
    monkeypatch.setattr(onnx_runtime.OnnxPairModel, "load", classmethod(lambda cls, path, **kw: seen.append(kw)))
    for threads in ("2", "0", None):
        argv = ["score", "a.txt", "b.txt", "--model", "m", "--backend", "onnx"]
        args = build_parser().parse_args([*argv, *(["--threads", threads] if threads else [])])
        load_model_arg("x", backend="onnx", threads=runtime_threads(args))
    assert [kw["threads"] for kw in seen] == [2, default_threads(), None]
