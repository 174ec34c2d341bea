"""Fixtures of the command-line tests: a tiny digits model trained once with ``pairsim train``, digits saved
as PNG files, a tiny LSTM text model, and ``run_cli`` (the exit code, stdout and stderr of ``pairsim ...``)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from pairsim.cli import main

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"
TINY_DIGITS = [
    "train.schedule.steps_per_epoch=5",
    "train.epochs=1",
    "train.batch_size=16",
    "train.device=cpu",
    "model.tower.width=0.25",
    "eval.episodes=0",
    "eval.pairs=40",
]


class Result(NamedTuple):
    code: int
    out: str
    err: str


def run_cli(*argv: Any) -> Result:
    """``pairsim ARGV`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli(*argv)``: run ``pairsim`` in this process -> ``Result(code, out, err)`` (captured with capsys)."""

    def run(*argv: Any) -> Result:
        capsys.readouterr()  # drop what came before
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """``pairsim train recipes/digits_pairs.yaml`` with tiny overrides: ``(output_dir, result)``."""
    out = tmp_path_factory.mktemp("cli-digits") / "run"
    result = run_cli("train", DIGITS, *TINY_DIGITS, f"output_dir={out}", "--no-progress")
    return out, result


@pytest.fixture(scope="session")
def model_dir(trained: tuple[Path, Result]) -> Path:
    out, result = trained
    assert result.code == 0, result.err
    return out / "model"


class Digit(NamedTuple):
    path: str
    label: int
    array: np.ndarray


@pytest.fixture(scope="session")
def digit_pngs(tmp_path_factory: pytest.TempPathFactory) -> list[Digit]:
    """The first 60 test-split digits as 8x8 grayscale PNG files (the same pixels the model trains on)."""
    from pairsim.data import load_dataset
    from pairsim.images import load_image

    test = load_dataset({"name": "digits"}).test
    directory = tmp_path_factory.mktemp("digit-pngs")
    digits = []
    for i in range(60):
        path = directory / f"digit{i:02d}_{test.labels[i]}.png"
        load_image(test.items[i], mode="L").save(path)
        digits.append(Digit(str(path), test.labels[i], test.items[i]))
    return digits


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[[str, list[str]], Path]:
    """``write_lines(name, lines)``: a file in ``tmp_path`` with one line per item."""

    def write(name: str, lines: list[str]) -> Path:
        path = tmp_path / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def text_model_dir(make_model: Callable[..., Any], tmp_path: Path) -> Path:
    """A tiny LSTM + cosine model (vocabulary fitted on the shared TEXTS), threshold 0.5, saved."""
    model = make_model("lstm", head="cosine")
    model.config.threshold = 0.5
    return model.save_pretrained(tmp_path / "text-model")
