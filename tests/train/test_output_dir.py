"""What a training run may touch: checkpoints that run no code, an earlier run kept until a new one has
finished, leftovers of killed runs cleaned, and one-line errors for a bad output directory or checkpoint."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.cli import main
from pairsim.errors import ModelFileError
from pairsim.losses.contrastive import ContrastiveLoss
from pairsim.recipe import Recipe
from pairsim.train import trainer as trainer_module
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer, TrainingError


def _digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (hidden ones too), by relative path."""
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _cli_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("pairsim: error: ")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0].removeprefix("pairsim: error: ")


@pytest.fixture
def finished(reference_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A copy of a finished run (model/, metrics.json, recipe.yaml, checkpoints/, plots/, train.log)."""
    out = tmp_path / "run"
    shutil.copytree(reference_run[0], out)
    return out


class _WritesAMarker:
    """A pickle that, when unpickled, writes a file: what a planted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('code ran')",))


# -- security -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_torch_file", [True, False], ids=["torch.save", "pickle"])
def test_a_planted_pickle_checkpoint_runs_nothing(
    as_torch_file: bool,
    finished: Path,
    digits_argv: Callable[..., list[str]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marker.txt"
    ckpt = finished / "checkpoints" / "last.pt"
    if as_torch_file:
        torch.save({"trainer": _WritesAMarker(marker)}, ckpt)
    else:
        ckpt.write_bytes(pickle.dumps(_WritesAMarker(marker)))
    before = _digest(finished)

    with pytest.raises(ModelFileError) as info:
        load_checkpoint(ckpt)
    assert str(info.value).startswith(f"cannot read checkpoint {ckpt}: not a pairsim checkpoint")
    message = _cli_error(capsys, digits_argv(finished, "--resume"))
    assert message.startswith(f"cannot read checkpoint {ckpt}: not a pairsim checkpoint")
    assert not marker.exists() and _digest(finished) == before

    # the planted file is real: unpickling it the old way runs its code
    if as_torch_file:
        torch.load(ckpt, weights_only=False)
    else:
        pickle.loads(ckpt.read_bytes())  # that is the point
    assert marker.read_text() == "code ran"


def test_checkpoints_hold_no_pickle(reference_run: tuple[Path, dict[str, Any]]) -> None:
    from safetensors import safe_open

    ckpt = reference_run[0] / "checkpoints" / "last.pt"
    with safe_open(ckpt, framework="pt") as f:  # a safetensors file: tensors plus JSON metadata
        assert "pairsim_checkpoint" in f.metadata() and len(list(f.keys())) > 0
    data = ckpt.read_bytes()  # exactly a safetensors layout: header length, JSON header, tensor bytes, nothing else
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert 8 + n + max(t["data_offsets"][1] for k, t in header.items() if k != "__metadata__") == len(data)


def test_resume_with_a_changed_model_names_the_parameter(
    finished: Path, digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(finished)
    message = _cli_error(capsys, digits_argv(finished, "model.tower.width=0.5", "--resume"))
    ckpt = finished / "checkpoints" / "last.pt"
    assert message.startswith(f"checkpoint {ckpt} does not fit the recipe's model: model.tower_a.")
    assert "has shape (" in message and "in the checkpoint and (" in message
    assert {k: v for k, v in _digest(finished).items() if k != "train.log"} == {
        k: v for k, v in before.items() if k != "train.log"
    }


# -- nothing lost -------------------------------------------------------------------------------------------------
def test_a_finished_run_is_not_overwritten_unless_asked(
    finished: Path, digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(finished)
    for extra in [(), ("train.epochs=0",)]:
        message = _cli_error(capsys, digits_argv(finished, *extra))
        assert message == (
            f"output_dir {finished} holds an earlier run (model, metrics.json, recipe.yaml, checkpoints): pass "
            "--resume to continue it, or --overwrite to replace it when the new run has finished"
        )
    assert _digest(finished) == before
    message = _cli_error(capsys, [*digits_argv(finished), "--resume", "--overwrite"])
    assert message.startswith("--resume continues the run in output_dir and --overwrite replaces it")
    assert _digest(finished) == before


def test_an_overwriting_run_that_stops_on_nan_keeps_the_earlier_run(
    finished: Path, digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    (finished / "notes.txt").write_text("mine")
    before = _digest(finished)
    real_forward = ContrastiveLoss.forward
    calls = {"n": 0}

    def nan_at_fifth_step(self: Any, *args: Any) -> torch.Tensor:
        calls["n"] += 1
        loss = real_forward(self, *args)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(ContrastiveLoss, "forward", nan_at_fifth_step)
    with pytest.raises(TrainingError) as info:
        Trainer(digits_recipe(output_dir=finished), overwrite=True, progress=False).run()
    assert str(info.value) == (
        f"loss is nan at step 4 (epoch 1); stopped (lower train.lr or check the data); the earlier run in {finished} "
        "is unchanged (nothing of this run is kept)"
    )
    assert _digest(finished) == before
    assert sorted(p.name for p in finished.parent.iterdir()) == ["run"]  # no staging directory left


def test_an_overwriting_run_that_fails_at_the_end_keeps_the_earlier_run(
    finished: Path, digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digest(finished)

    def broken_test_split(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(trainer_module, "write_json", broken_test_split)
    with pytest.raises(OSError, match="disk full"):
        Trainer(digits_recipe("train.epochs=0", output_dir=finished), overwrite=True, progress=False).run()
    assert _digest(finished) == before
    assert sorted(p.name for p in finished.parent.iterdir()) == ["run"]


def test_an_overwriting_run_replaces_the_earlier_run_when_finished(
    finished: Path, digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    (finished / "notes.txt").write_text("mine")
    (finished / "plots" / "old-only.png").write_bytes(b"from the earlier run")
    old_weights = (finished / "model" / "model.safetensors").read_bytes()
    assert main([*digits_argv(finished, "train.seed=5"), "--overwrite"]) == 0, capsys.readouterr().err
    assert (finished / "model" / "model.safetensors").read_bytes() != old_weights
    assert load_checkpoint(finished / "checkpoints" / "last.pt")["trainer"]["global_step"] == 12
    assert (finished / "notes.txt").read_text() == "mine"  # not ours: kept
    assert not (finished / "plots" / "old-only.png").exists()  # the earlier run's plots went with it
    assert Recipe.load(finished / "recipe.yaml").train.seed == 5
    assert sorted(p.name for p in finished.parent.iterdir()) == ["run"]


def test_nan_at_the_first_step_says_no_checkpoint_is_kept(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_forward = ContrastiveLoss.forward
    monkeypatch.setattr(ContrastiveLoss, "forward", lambda self, *a: real_forward(self, *a) * float("nan"))
    recipe = digits_recipe()
    with pytest.raises(TrainingError) as info:
        Trainer(recipe, progress=False).run()
    assert str(info.value) == (
        "loss is nan at step 0 (epoch 1); stopped (lower train.lr or check the data); no checkpoint was written yet, "
        "so there is nothing to resume from"
    )
    assert not (Path(recipe.output_dir) / "checkpoints").exists()


def test_leftovers_of_killed_runs_are_cleaned(
    finished: Path, digits_recipe: Callable[..., Recipe], tmp_path: Path
) -> None:
    leftovers = [
        finished / "checkpoints" / ".last.pt.tmp",
        finished / ".metrics.json.tmp",
        finished / ".metrics.json.k2j4_x1q.tmp",  # older versions' mkstemp name
        finished / ".model.new" / "model.safetensors",
        finished / ".model.old" / "model.safetensors",
        finished / ".model.a1b2c3d4" / "model.safetensors",  # older versions' mkdtemp name
        tmp_path / ".run.overwrite" / "train.log",  # a killed overwriting run
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    (finished / ".model.notes").write_text("not ours")
    Trainer(digits_recipe(output_dir=finished), resume=True, progress=False).run()  # finished: trains nothing
    assert not any(p.exists() for p in leftovers)
    assert not (tmp_path / ".run.overwrite").exists() and (finished / ".model.notes").read_text() == "not ours"


def test_a_kill_between_the_model_swap_renames_is_recovered_on_resume(
    finished: Path, digits_recipe: Callable[..., Recipe]
) -> None:
    weights = (finished / "model" / "model.safetensors").read_bytes()
    (finished / "model").rename(finished / ".model.old")  # killed after the first rename of a save
    Trainer(digits_recipe(output_dir=finished), resume=True, progress=False).run()
    assert (finished / "model" / "model.safetensors").read_bytes() == weights
    assert not (finished / ".model.old").exists()


# -- bad output directories ------------------------------------------------------------------------------------------
def test_empty_output_dir_is_refused(
    digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    message = _cli_error(capsys, digits_argv(""))
    assert message == "output_dir: is empty; expected the directory of the run, e.g. output_dir=runs/digits"
    assert list(tmp_path.iterdir()) == []


def test_output_dir_that_is_a_file_is_refused(
    digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "run.txt"
    target.write_text("not a directory")
    assert _cli_error(capsys, digits_argv(target)) == f"output_dir {target} is a file; expected a directory for the run"
    assert target.read_text() == "not a directory"


def test_a_train_log_link_in_output_dir_is_refused_before_anything_is_written(
    tmp_path: Path, digits_argv: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, outside = tmp_path / "run", tmp_path / "outside.log"
    out.mkdir()
    outside.write_text("keep\n")
    (out / "train.log").symlink_to(outside)
    message = _cli_error(capsys, digits_argv(out))
    assert message == (
        f"output_dir {out}: train.log is a symbolic link; expected a regular file or nothing (it is left as it "
        "is: remove it, or choose another output_dir)"
    )
    assert outside.read_text() == "keep\n" and sorted(p.name for p in out.iterdir()) == ["train.log"]
