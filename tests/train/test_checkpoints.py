"""Checkpoints and failures: atomic writes, unreadable checkpoints, random-state round trips, NaN losses."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairsim.errors import ModelFileError
from pairsim.losses.contrastive import ContrastiveLoss
from pairsim.recipe import Recipe
from pairsim.train import checkpoint as checkpoint_module
from pairsim.train import trainer as trainer_module
from pairsim.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from pairsim.train.trainer import Trainer, TrainingError


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "last.pt"  # parents are created
    state = {"weights": torch.arange(6.0).reshape(2, 3), "trainer": {"global_step": 7, "best": None}}
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], state["weights"]) and loaded["trainer"] == state["trainer"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary file left behind


def test_failed_checkpoint_write_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"trainer": {"global_step": 3}, "w": torch.ones(4)})
    before = path.read_bytes()

    def save_that_dies_halfway(tensors: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(before[: len(before) // 2])  # half a file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_file", save_that_dies_halfway)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"trainer": {"global_step": 6}, "w": torch.zeros(4)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # the half-written temporary is gone
    assert load_checkpoint(path)["trainer"]["global_step"] == 3


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_unreadable_checkpoint_is_a_model_file_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "last.pt"
    if content is None:
        save_checkpoint(path, {"w": torch.ones(1000)})
        content = path.read_bytes()[:-100]  # truncated
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=f"cannot read checkpoint {path}"):
        load_checkpoint(path)
    with pytest.raises(ModelFileError, match=f"no checkpoint to resume from at {tmp_path / 'missing.pt'}"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_keeps_every_kind_of_value(tmp_path: Path) -> None:
    shared = torch.arange(4.0)
    state = {
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2, 2)}}, "param_groups": [
            {"params": [0, 1], "betas": (0.9, 0.999), "lr": 1e-3, "foreach": None}]},
        "rng": rng_state(),
        "floats": [float("nan"), float("inf"), -float("inf"), 0.1 + 0.2, np.float32(0.5), np.float64(0.25)],
        "same_memory": [shared, shared[:2]],  # a head seen by the model and the loss
        "bf16": torch.ones(3, dtype=torch.bfloat16),
        "__tensor__": "a key that looks like a marker",
        "empty": {},
    }  # fmt: skip
    save_checkpoint(tmp_path / "last.pt", state)
    back = load_checkpoint(tmp_path / "last.pt")
    assert list(back["optimizer"]["state"]) == [0]  # integer keys stay integers (the optimiser maps them)
    assert torch.equal(back["optimizer"]["state"][0]["exp_avg"], torch.ones(2, 2))
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["optimizer"]["param_groups"][0]["foreach"] is None
    floats = back["floats"]
    assert math.isnan(floats[0]) and floats[1:4] == [float("inf"), -float("inf"), 0.1 + 0.2]
    assert floats[4:] == [0.5, 0.25]
    assert torch.equal(back["same_memory"][0], shared) and torch.equal(back["same_memory"][1], shared[:2])
    assert back["bf16"].dtype == torch.bfloat16 and back["__tensor__"] == "a key that looks like a marker"
    assert back["empty"] == {}
    python, numpy_state, torch_state = back["rng"]["python"], back["rng"]["numpy"], back["rng"]["torch"]
    assert python == random.getstate() and torch.equal(torch_state, torch.get_rng_state())
    assert numpy_state[0] == "MT19937" and np.array_equal(numpy_state[1], np.random.get_state()[1])


def test_rng_state_round_trip_replays_every_generator() -> None:
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = digits_recipe()  # checkpoint every 3 steps
    ckpt = Path(recipe.output_dir) / "checkpoints" / "last.pt"
    written: list[tuple[int, bytes]] = []  # (global step, file bytes) of every checkpoint written

    def spy_save(path: Path, state: dict[str, Any]) -> None:
        save_checkpoint(path, state)
        written.append((state["trainer"]["global_step"], path.read_bytes()))

    real_forward = ContrastiveLoss.forward
    calls = {"n": 0}

    def nan_at_fifth_step(self: Any, *args: Any) -> torch.Tensor:
        calls["n"] += 1
        loss = real_forward(self, *args)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(trainer_module, "save_checkpoint", spy_save)
    monkeypatch.setattr(ContrastiveLoss, "forward", nan_at_fifth_step)
    with pytest.raises(TrainingError) as info:
        Trainer(recipe, progress=False).run()

    message = str(info.value)
    assert message.startswith("loss is nan at step 4 (epoch 1)")  # 4 steps done, the 5th gave NaN
    assert message == (
        f"loss is nan at step 4 (epoch 1); stopped (lower train.lr or check the data); the last good checkpoint is "
        f"kept at {ckpt} (continue with --resume)"
    )
    assert [step for step, _ in written] == [3]
    assert ckpt.read_bytes() == written[-1][1]  # unchanged since step 3
    state = load_checkpoint(ckpt)
    assert state["trainer"]["global_step"] == 3
    assert all(torch.isfinite(t).all() for t in state["step_module"].values() if t.is_floating_point())
    assert not (Path(recipe.output_dir) / "metrics.json").exists()


def test_inf_loss_at_the_first_step_is_an_error_too(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_forward = ContrastiveLoss.forward
    monkeypatch.setattr(ContrastiveLoss, "forward", lambda self, *a: real_forward(self, *a) + float("inf"))
    with pytest.raises(TrainingError, match="loss is inf at step 0 "):
        Trainer(digits_recipe(), progress=False).run()
    assert not (Path(digits_recipe().output_dir) / "checkpoints" / "last.pt").exists()


def _is_whole_safetensors(path: Path) -> bool:
    """The file is exactly a safetensors layout: an 8-byte header length, that JSON header, then the tensors'
    bytes to the last one (no byte left over for anything else, a pickle included)."""
    import json
    import struct

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    return 8 + n + end == len(data)


@pytest.mark.parametrize("size", range(0, 120, 3))
def test_a_checkpoint_of_any_size_is_safetensors_only(tmp_path: Path, size: int) -> None:
    """Whatever the state's size, the file is safetensors through and through, and reads back exactly."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"note": "x" * size, "w": torch.zeros(2)})
    assert _is_whole_safetensors(path)
    assert load_checkpoint(path)["note"] == "x" * size


def _plant_kill_leftovers(checkpoints: Path) -> tuple[list[str], list[str]]:
    """What kill -9 during a checkpoint write leaves (and what older versions left), and files a user put there.

    Returns:
        (leftover names, user file names).
    """
    scratch = checkpoints / ".last.pt.tmp.d"  # this version: safetensors' temp file inside atomic_write's scratch
    scratch.mkdir()
    (scratch / ".tmpAbC123").write_bytes((checkpoints / "last.pt").read_bytes()[:5000])
    (checkpoints / ".tmp0fhb10").write_bytes((checkpoints / "last.pt").read_bytes()[:5000])  # older versions
    (checkpoints / ".tmpEmpty1").write_bytes(b"")  # killed right after safetensors created it
    (checkpoints / ".tmpnotes1").write_text("my notes, not a safetensors file")
    (checkpoints / "keep.txt").write_text("mine")
    return [".last.pt.tmp.d", ".tmp0fhb10", ".tmpEmpty1"], [".tmpnotes1", "keep.txt", "last.pt"]


def test_clean_checkpoint_leftovers_removes_only_killed_writes(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"w": torch.ones(3)})
    leftovers, users = _plant_kill_leftovers(path.parent)
    removed = checkpoint_module.clean_checkpoint_leftovers(path)
    assert sorted(p.name for p in removed) == sorted(leftovers)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(users)


def test_a_resumed_run_leaves_no_temporary_file(
    reference_run: tuple[Path, dict[str, Any]], digits_recipe: Callable[..., Recipe]
) -> None:
    import shutil

    recipe = digits_recipe()
    out = Path(recipe.output_dir)
    shutil.copytree(reference_run[0], out)
    _, users = _plant_kill_leftovers(out / "checkpoints")
    Trainer(recipe, resume=True, progress=False).run()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == sorted(users)
    assert not [p for p in out.rglob(".*") if p.name != ".tmpnotes1"]  # no temporary name anywhere in the run
