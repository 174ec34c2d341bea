"""The mined-negatives table (``negatives_table``), the ``hard_negatives`` sampler, and infonce training on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairsim import HEADS, LOSSES
from pairsim.data.hard_negatives import HardNegativesConfig, hard_negatives
from pairsim.data.pipeline import Batches
from pairsim.data.samplers import Draw
from pairsim.data.sources.base import load_dataset
from pairsim.data.types import PairTable
from pairsim.errors import DataError

ROWS = [  # anchor, positive, negative_1, negative_2, key
    ("how old are you", "what is your age", "where do you live", "what is your name", "q1"),
    ("what is your age", "how old are you", "what time is it", "where do you live", "q1"),
    ("where do you live", "what is your address", "what is your age", "how tall are you", "q2"),
    ("what time is it", "do you have the time", "how old are you", "what is your name", "q3"),
    ("what is your name", "who are you", "what time is it", "how tall are you", "q4"),
    ("how tall are you", "what is your height", "who are you", "is it raining", "q5"),
]


def write_table(path: Path, rows: list[tuple[str, ...]] = ROWS, *, key: bool = True) -> Path:
    head = ["anchor", "positive", "negative_1", "negative_2"] + (["key"] if key else [])
    lines = [",".join(head)] + [",".join(r if key else r[:4]) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_table_loads_negatives_keys_and_evaluation_pairs(tmp_path: Path) -> None:
    path = write_table(tmp_path / "mined.csv")
    splits = load_dataset({"name": "negatives_table", "path": str(path), "val_path": str(path),
                           "test_path": str(path), "cache_dir": str(tmp_path / "cache")})  # fmt: skip
    train = splits.train
    assert train.a == [r[0] for r in ROWS] and train.b == [r[1] for r in ROWS]
    assert train.negatives == [[r[2], r[3]] for r in ROWS] and train.labels == [1.0] * 6
    assert train.keys_a == train.keys_b == [r[4] for r in ROWS]
    # evaluation: (anchor, positive) = 1, then (anchor, negative_1) = 0
    assert splits.test.labels == [1.0] * 6 + [0.0] * 6 and splits.test.b[6:] == [r[2] for r in ROWS]
    one = load_dataset({"name": "negatives_table", "path": str(path), "negatives": 1, "val_path": str(path),
                        "test_path": str(path), "cache_dir": str(tmp_path / "cache")})  # fmt: skip
    assert one.train.negatives == [[r[2]] for r in ROWS]


def test_table_carves_val_and_test_by_key(tmp_path: Path) -> None:
    path = write_table(tmp_path / "mined.csv")
    splits = load_dataset({"name": "negatives_table", "path": str(path), "val_fraction": 0.2, "test_fraction": 0.2,
                           "cache_dir": str(tmp_path / "cache")})  # fmt: skip
    keys = {r[0]: r[4] for r in ROWS}
    held = {keys[a] for t in (splits.val, splits.test) for a in t.a}
    assert not held & set(splits.train.keys_b)  # a key (both q1 rows) never crosses splits
    assert len(splits.train) + sum(int(sum(t.labels)) for t in (splits.val, splits.test)) == 6


def test_table_without_negative_columns_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("anchor,positive\na,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no negative columns negative_1 \.\. negative_n; found columns"):
        load_dataset({"name": "negatives_table", "path": str(path), "cache_dir": str(tmp_path / "cache")})


def _table() -> PairTable:
    return PairTable(a=[r[0] for r in ROWS], b=[r[1] for r in ROWS], labels=[1.0] * 6, keys_a=[r[4] for r in ROWS],
                     keys_b=[r[4] for r in ROWS], negatives=[[r[2], r[3]] for r in ROWS])  # fmt: skip


def test_sampler_rows_point_at_each_rows_negatives_and_carry_keys() -> None:
    table = _table()
    draw = Draw(options=HardNegativesConfig(), batch_size=3, train=False, target="keys", sides=("a", "b", "b", "b"))
    batches = hard_negatives(table, np.random.default_rng(0), 0, draw)
    items = table.side_b_items()
    of_item = {text: r[4] for r in ROWS for text in r[:2]}  # an anchor's or positive's text -> its row's key
    names: dict[int, str] = {}  # key id -> the key it stands for
    assert len(batches) == 2 and all(b.index.shape == (3, 4) and b.target.shape == (3, 4, 2) for b in batches)
    for batch in batches:
        assert len({ROWS[r][4] for r in batch.index[:, 0]}) == 3  # no key twice in a batch
        for row, keys in zip(batch.index, batch.target, strict=True):
            assert items[row[2]] == ROWS[row[0]][2] and items[row[3]] == ROWS[row[0]][3]
            assert (keys[:, 1] == row).all()  # item indices
            expected = [ROWS[row[0]][4]] * 2 + [of_item.get(items[j], f"own:{items[j]}") for j in row[2:]]
            for key_id, name in zip(keys[:, 0].tolist(), expected, strict=True):
                assert names.setdefault(key_id, name) == name  # one id per key, the same key everywhere
    assert len(set(names.values())) == len(names)
    assert "q1" in names.values() and any(v.startswith("own:") for v in names.values())
    with pytest.raises(DataError, match="the loss wants 3 negatives per row but the data has 2"):
        hard_negatives(table, np.random.default_rng(0), 0, Draw(HardNegativesConfig(), 3, sides=("a", *"bbbb")))


def test_batches_feed_infonce_with_negatives_and_masking(char_tower: Any) -> None:
    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    loss = LOSSES.get("infonce")(LOSSES.get("infonce").Config(name="infonce", negatives=2), head=head)
    tower = char_tower
    feed = Batches(_table(), loss.consumes, (tower, tower), batch_size=3, seed=1)
    a, p, n1, n2, keys = feed[0]
    assert a["x"].shape == (3, 26) and keys.shape == (3, 4, 2) and keys.dtype == torch.long
    value = loss(*[tower.linear(x["x"]) for x in (a, p, n1, n2)], keys)
    value.backward()
    assert torch.isfinite(value) and tower.linear.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_cached_infonce_with_negatives_and_a_guide_trains_end_to_end(tmp_path: Path) -> None:
    """A real run: an LSTM on the mined table with two negatives per row, key masking and a saved pairsim model as
    the guide (trainer, sampler, Loss.prepare embedding every item once, GradCache, evaluation on the pairs)."""
    from pairsim.model import PairModel
    from pairsim.recipe import Recipe
    from pairsim.train.trainer import Trainer

    path = write_table(tmp_path / "mined.csv", ROWS * 3)
    tower = {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}
    guide = PairModel.from_config({"tower": tower, "head": {"name": "cosine"}}, adapt_on=([r[0] for r in ROWS], None))
    guide.save_pretrained(tmp_path / "guide")
    recipe = Recipe.from_dict({
        "model": {"tower": tower, "head": {"name": "cosine"}},
        "loss": {"name": "cached_infonce", "negatives": 2, "mini_batch_size": 2, "guide": str(tmp_path / "guide"),
                 "guide_margin": 0.1},
        "data": {"name": "negatives_table", "path": str(path), "val_path": str(path), "test_path": str(path),
                 "cache_dir": str(tmp_path / "cache")},
        "train": {"epochs": 1, "batch_size": 4, "device": "cpu", "validation": {"at_start": False}},
        "eval": {"plots": False},
        "output_dir": str(tmp_path / "run"),
    })  # fmt: skip
    trainer = Trainer(recipe, progress=False)
    metrics = trainer.run()
    assert trainer.loss.guide is not None and trainer.loss.guide.embeddings["b"].shape == (18 * 3, 8)
    assert metrics["steps"] == 3 and metrics["test"]["n_pairs"] == 36  # 18 positives, 18 (anchor, negative_1)
