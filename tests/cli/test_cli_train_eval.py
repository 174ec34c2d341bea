"""``pairsim train`` and ``pairsim eval`` end to end, and the console script itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pairsim.losses.contrastive import ContrastiveLoss

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"


def _table(text: str) -> dict[str, str]:
    """The metric -> value rows of a printed table."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not set(parts[1]) <= {"-"}:
            rows[parts[0]] = parts[1]
    return rows


def test_train_writes_a_run_and_prints_the_test_table(trained: tuple[Path, object]) -> None:
    out, result = trained
    assert result.code == 0, result.err
    for name in [
        "model/config.json",
        "model/model.safetensors",
        "metrics.json",
        "recipe.yaml",
        "train.log",
        "checkpoints/last.pt",
        "plots/curves.png",
        "plots/test_roc.png",
        "plots/test_score_histograms.png",
        "plots/test_hardest_pairs.png",
    ]:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 5
    table = _table(result.out)
    assert table["test.roc_auc"] == f"{metrics['test']['roc_auc']:.4f}"
    assert table["test.n_pairs"] == "40"
    assert f"model, metrics.json, plots and log in {out}" in result.out


def test_eval_reproduces_the_test_metrics_writes_plots_and_prints_a_table(
    trained: tuple[Path, object], model_dir: Path, cli: Callable[..., object], tmp_path: Path
) -> None:
    out, _ = trained
    result = cli("eval", model_dir, "--out", tmp_path / "eval")
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics == json.loads((out / "metrics.json").read_text())["test"]  # same model, split and pairs
    for name in ["test_roc.png", "test_score_histograms.png", "test_hardest_pairs.png"]:
        assert (tmp_path / "eval" / name).stat().st_size > 0
    table = _table(result.out)
    assert table["test.accuracy"] == f"{metrics['accuracy']:.4f}" and table["test.eer"] == f"{metrics['eer']:.4f}"
    assert f"metrics in {tmp_path / 'eval' / 'metrics.json'}, plots in {tmp_path / 'eval'}" in result.out


def test_eval_val_split_with_overrides_and_default_output(
    trained: tuple[Path, object], model_dir: Path, cli: Callable[..., object], tmp_path: Path
) -> None:
    out, _ = trained
    copy = tmp_path / "run"  # eval writes next to the model by default: work on a copy
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("checkpoints", "plots"))
    result = cli("eval", copy / "model", "eval.plots=false", "eval.pairs=20", "--split", "val")
    assert result.code == 0, result.err
    metrics = json.loads((copy / "eval" / "metrics.json").read_text())
    assert metrics["n_pairs"] == 20 and "val.roc_auc" in _table(result.out)
    assert sorted(p.name for p in (copy / "eval").iterdir()) == ["metrics.json"]  # no plots
    threshold = json.loads((model_dir / "config.json").read_text())["model"]["threshold"]
    assert metrics["threshold"] == threshold  # the stored threshold, not re-calibrated on val


def test_eval_needs_the_recipe(model_dir: Path, cli: Callable[..., object], tmp_path: Path) -> None:
    shutil.copytree(model_dir, tmp_path / "lonely" / "model")
    result = cli("eval", tmp_path / "lonely" / "model")
    assert result.code == 2 and result.out == ""
    assert result.err == (
        f"pairsim: error: no recipe given and none found at {tmp_path / 'lonely' / 'recipe.yaml'}: "
        "pass the recipe the model was trained with\n"
    )
    # with the recipe named explicitly it works
    result = cli(
        "eval",
        tmp_path / "lonely" / "model",
        DIGITS,
        "eval.pairs=10",
        "eval.episodes=0",
        "eval.plots=false",
        "model.tower.width=0.25",
    )
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "lonely" / "eval" / "metrics.json").read_text())["n_pairs"] == 10


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train.epochz=1"], "digits_pairs.yaml.train: unknown key 'epochz'; valid keys: "),
        (["model.tower.name=cnnx"], "digits_pairs.yaml.model.tower.name: unknown tower 'cnnx'; valid towers: cnn, "),
        (["train.epochs=1", "--resume"], "no checkpoint to resume from at "),
    ],
)
def test_train_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, cli: Callable[..., object], tmp_path: Path
) -> None:
    result = cli("train", DIGITS, f"output_dir={tmp_path / 'run'}", "train.device=cpu", *argv, "--no-progress")
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pairsim: error: {message}"), result.err


def test_train_nan_loss_exits_2_naming_the_step(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ContrastiveLoss.forward
    monkeypatch.setattr(ContrastiveLoss, "forward", lambda self, *a: real(self, *a) * float("nan"))
    result = cli(
        "train",
        DIGITS,
        f"output_dir={tmp_path / 'run'}",
        "train.device=cpu",
        "model.tower.width=0.25",
        "train.batch_size=8",
        "--no-progress",
    )
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if line.startswith("pairsim:")]
    assert errors == [
        "pairsim: error: loss is nan at step 0 (epoch 1); stopped (lower train.lr or check the data); no checkpoint "
        "was written yet, so there is nothing to resume from"
    ]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_console_script_reports_errors_with_exit_code_2(tmp_path: Path) -> None:
    """The installed ``pairsim`` script (a real subprocess): a missing recipe is one line and exit code 2."""
    script = Path(sys.executable).with_name("pairsim")
    if not script.is_file():
        pytest.skip(f"console script not installed next to {sys.executable} (pip install -e .)")
    proc = subprocess.run(
        [str(script), "train", str(tmp_path / "missing.yaml")], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2
    assert proc.stderr == f"pairsim: error: recipe not found: {tmp_path / 'missing.yaml'}\n"
    assert proc.stdout == ""
