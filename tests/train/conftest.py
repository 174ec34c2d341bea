"""Fixtures of the trainer tests: a tiny digits recipe and one uninterrupted reference run of it.

The digits recipe needs no data files (scikit-learn bundles the images). Shrunk to 2 epochs of 6 steps of
16 pairs with a quarter-width CNN, a checkpoint every 3 steps and a log entry every 2, a run takes a few
seconds on a CPU and still goes through everything a real run does: validation and best-model saving after
each epoch, mid-epoch and end-of-epoch checkpoints, test evaluation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.recipe import Recipe
from pairsim.train.step import TrainStep

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"
TINY_DIGITS = [
    "train.schedule.steps_per_epoch=6",
    "train.epochs=2",
    "train.checkpoint.every=3",
    "train.batch_size=16",
    "train.log_every=2",
    "train.device=cpu",
    "train.speed.num_workers=0",
    "model.tower.width=0.25",
    "eval.episodes=0",
    "eval.pairs=50",
    "eval.plots=false",
    "train.validation.at_start=false",  # validation at epoch ends only (tests/train/test_newcomer.py covers step 0)
]


def tiny_digits(output_dir: Path, *overrides: str) -> Recipe:
    return Recipe.load(DIGITS, [*TINY_DIGITS, f"output_dir={output_dir}", *overrides])


@pytest.fixture
def untied_overrides() -> list[str]:
    """Overrides making the digits model untied, with a head that has parameters of its own (scale, bias),
    trained with BCE: a second tower to freeze, cache or give its own learning rate."""
    return [
        "model.tower_b={name: cnn, arch: face, image_size: [16, 16], channels: 1, mean: [0.5], std: [0.5], "
        "width: 0.25, out_dim: 32, dropout: 0.0}",
        "model.head={name: cosine, calibrated: true}",
        "loss={name: bce}",
    ]


@pytest.fixture
def digits_recipe(tmp_path: Path) -> Callable[..., Recipe]:
    """``digits_recipe(*overrides, output_dir=tmp_path / "run")``: the tiny digits recipe."""

    def make(*overrides: str, output_dir: Path | None = None) -> Recipe:
        return tiny_digits(output_dir or tmp_path / "run", *overrides)

    return make


@pytest.fixture
def digits_argv() -> Callable[..., list[str]]:
    """``digits_argv(output_dir, *overrides)``: the ``pairsim train`` arguments of the tiny digits recipe."""

    def make(output_dir: Path | str, *overrides: str) -> list[str]:
        return ["train", str(DIGITS), *TINY_DIGITS, f"output_dir={output_dir}", *overrides, "--no-progress"]

    return make


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny digits recipe trained once, uninterrupted: ``(output_dir, metrics)``."""
    from pairsim.train.trainer import Trainer

    out = tmp_path_factory.mktemp("digits-reference")
    metrics = Trainer(tiny_digits(out), progress=False).run()
    return out, metrics


@contextlib.contextmanager
def _killed_at_step(n: int) -> Iterator[None]:
    real, calls = TrainStep.forward, {"n": 0}

    def forward(self: TrainStep, batch: Any) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(self, batch)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(TrainStep, "forward", forward)
        with pytest.raises(KeyboardInterrupt):
            yield


@pytest.fixture
def killed_at_step() -> Callable[[int], AbstractContextManager[None]]:
    """``with killed_at_step(n): Trainer(...).run()``: the ``n``-th training forward (1-based, i.e. optimiser
    step ``n``) raises KeyboardInterrupt, as a kill would stop the run there; the block expects it."""
    return _killed_at_step
