"""A teacher's margins in a mined table (``negatives_table`` with ``margin:``), the ``margins`` sampler, and
``margin_mse`` trained from a recipe / ``pairsim.fit`` on them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pairsim import HEADS, LOSSES
from pairsim.data.margins import MarginsConfig, margins
from pairsim.data.pipeline import Batches
from pairsim.data.samplers import Draw
from pairsim.data.sources.base import load_dataset
from pairsim.data.types import PairTable
from pairsim.errors import ConfigError, DataError

ROWS = [  # anchor, positive, negative_1, margin (a teacher's t(q, p) - t(q, n)), key
    ("how old are you", "what is your age", "where do you live", "0.8", "q1"),
    ("where do you live", "what is your address", "what is your age", "0.6", "q2"),
    ("what time is it", "do you have the time", "how old are you", "0.9", "q3"),
    ("what is your name", "who are you", "what time is it", "0.4", "q4"),
    ("how tall are you", "what is your height", "who are you", "-0.1", "q5"),
    ("is it raining", "is the weather wet", "how tall are you", "0.7", "q6"),
]


def write_table(path: Path, rows: list[tuple[str, ...]] = ROWS) -> Path:
    lines = ["anchor,positive,negative_1,margin,key"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def data(path: Path, tmp_path: Path) -> dict[str, Any]:
    return {"name": "negatives_table", "path": str(path), "val_path": str(path), "test_path": str(path),
            "margin": "margin", "cache_dir": str(tmp_path / "cache")}  # fmt: skip


def test_table_margins_become_the_training_scores(tmp_path: Path) -> None:
    splits = load_dataset(data(write_table(tmp_path / "m.csv"), tmp_path))
    assert splits.train.scores == [float(r[3]) for r in ROWS]
    assert splits.train.negatives == [[r[2]] for r in ROWS]
    plain = load_dataset({**data(tmp_path / "m.csv", tmp_path), "margin": None})
    assert plain.train.scores is None  # no margin: column ignored, as before


def test_a_bad_margin_is_one_error_naming_the_row(tmp_path: Path) -> None:
    rows = [*ROWS[:2], (*ROWS[2][:3], "high", "q3")]
    with pytest.raises(DataError, match=r"m\.csv: row 3: margin 'high' is not a finite number"):
        load_dataset(data(write_table(tmp_path / "m.csv", rows), tmp_path))
    with pytest.raises(DataError, match=r"missing column 'gap'"):
        load_dataset({**data(write_table(tmp_path / "m.csv"), tmp_path), "margin": "gap"})


def _table() -> PairTable:
    return PairTable(a=[r[0] for r in ROWS], b=[r[1] for r in ROWS], labels=[1.0] * 6,
                     scores=[float(r[3]) for r in ROWS], negatives=[[r[2]] for r in ROWS])  # fmt: skip


def test_sampler_gives_each_row_once_with_its_negative_and_margin() -> None:
    table = _table()
    draw = Draw(options=MarginsConfig(), batch_size=4, train=True, target="graded", sides=("a", "b", "b"))
    batches = margins(table, np.random.default_rng(0), 0, draw)
    assert [b.index.shape for b in batches] == [(4, 3)]  # 6 rows, batches of 4: the short last one dropped
    items = table.side_b_items()
    for row, target in zip(batches[0].index, batches[0].target, strict=True):
        r = int(row[0])
        assert row[1] == r and items[row[2]] == ROWS[r][2] and math.isclose(target, float(ROWS[r][3]), rel_tol=1e-6)
    every = margins(table, np.random.default_rng(0), 0, Draw(MarginsConfig(), 4, train=False, target="graded"))
    assert sorted(int(r) for b in every for r in b.index[:, 0]) == list(range(6))  # evaluation: all, in order


def test_sampler_refuses_a_table_without_margins() -> None:
    no_margins = PairTable(a=["q"], b=["p"], labels=[1.0], negatives=[["n"]])
    with pytest.raises(DataError, match="sampler 'margins' needs a negative_1 column and the teacher's margins"):
        margins(no_margins, np.random.default_rng(0), 0, Draw(MarginsConfig(), 1, target="graded"))
    with pytest.raises(ConfigError, match="sampler 'margins' needs a table"):
        margins(object(), np.random.default_rng(0), 0, Draw(MarginsConfig(), 1, target="graded"))  # type: ignore[arg-type]


def test_one_batch_of_margin_mse_equals_the_hand_computation(char_tower: Any) -> None:
    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    loss = LOSSES.get("margin_mse")(LOSSES.get("margin_mse").Config(name="margin_mse"), head=head)
    assert loss.consumes.sampler == "margins"  # the loss's default sampler: no sampler section needed
    tower = char_tower
    feed = Batches(_table(), loss.consumes, (tower, tower), batch_size=3, seed=1)
    q, p, n, target = feed[0]
    rows = feed.rows(0)[0].index[:, 0]
    torch.testing.assert_close(target, torch.tensor([float(ROWS[r][3]) for r in rows]))
    value = loss.step(lambda side, x: tower.linear(x["x"]), feed[0])
    eq, ep, en = (tower.linear(x["x"]) for x in (q, p, n))  # (3, 8) each
    student = F.cosine_similarity(eq, ep) - F.cosine_similarity(eq, en)  # (3,)
    expected = ((student - target) ** 2).mean()
    torch.testing.assert_close(value, expected)


class Losses:
    """Records every step's loss."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        self.values.append(loss)

    def __getattr__(self, name: str) -> Any:  # the other hooks: nothing
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def test_margin_mse_trains_from_a_recipe_and_fit(tmp_path: Path) -> None:
    """``loss: {name: margin_mse}`` on the margin table, through ``pairsim.fit`` (the recipe path): the default
    ``margins`` sampler feeds it, and the loss falls."""
    import pairsim

    path = write_table(tmp_path / "m.csv", ROWS * 4)
    seen = Losses()
    result = pairsim.fit(
        {"name": "lstm", "embed_dim": 8, "hidden_dim": 8},
        data(path, tmp_path),
        loss="margin_mse",
        output_dir=tmp_path / "run",
        epochs=8,
        batch_size=8,
        lr=0.01,
        device="cpu",
        validation={"at_start": False},
        eval={"plots": False},
        callbacks=[seen],
    )
    assert result.recipe.loss.name == "margin_mse" and result.metrics["steps"] == 24  # 24 rows / 8, 8 epochs
    first, last = np.mean(seen.values[:3]), np.mean(seen.values[-3:])
    assert last < 0.5 * first, (first, last)
