"""The FNC-1 source: label mapping, splits by body, counts on the real files, and one-line errors for bad
files (small CSVs written here in the official layout)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from pairsim.data.sources import fnc1 as fnc1_module
from pairsim.data.sources import load_dataset
from pairsim.data.sources.fnc1 import STANCES, StanceTable, split_by_body
from pairsim.errors import DataError

BODIES = {str(i): f'Body {i} tells its story.\nA second paragraph, with "quotes", for body {i}.' for i in range(10)}
# (headline, body id, stance): 30 training pairs over bodies 0-9, 3 per body
TRAIN_PAIRS = [(f"Headline {i % 7}", str(i % 10), STANCES[i % 4].capitalize() if i == 5 else STANCES[i % 4])
               for i in range(30)]  # fmt: skip
TEST_BODIES = {"100": "A test body.", "101": "Another test body."}
TEST_PAIRS = [("Test headline", "100", "agree"), ("Test headline", "101", "unrelated"), ("Other", "100", "discuss")]


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_fnc1(root: Path, *, train_pairs=TRAIN_PAIRS, bodies=BODIES) -> Path:  # type: ignore[no-untyped-def]
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "train_stances.csv", ["Headline", "Body ID", "Stance"], list(train_pairs))
    write_csv(root / "train_bodies.csv", ["Body ID", "articleBody"], list(bodies.items()))
    write_csv(root / "competition_test_stances.csv", ["Headline", "Body ID", "Stance"], TEST_PAIRS)
    write_csv(root / "competition_test_bodies.csv", ["Body ID", "articleBody"], list(TEST_BODIES.items()))
    return root


def test_labels_are_related_and_the_stance_is_kept(tmp_path: Path) -> None:
    splits = load_dataset({"name": "fnc1", "path": str(write_fnc1(tmp_path)), "val_fraction": 0.2})
    assert splits.kind is StanceTable
    test = splits.test
    assert test.a == ["Test headline", "Test headline", "Other"]
    assert test.b == ["A test body.", "Another test body.", "A test body."]
    assert test.stances == ["agree", "unrelated", "discuss"] and test.labels == [1.0, 0.0, 1.0]
    assert test.keys_b == ["100", "101", "100"] and test.modality == "text"
    for _, table in splits.items():
        assert table.labels == [float(s != "unrelated") for s in table.stances]
        assert all(
            table.b[i] == BODIES.get(table.keys_b[i], TEST_BODIES.get(table.keys_b[i])) for i in range(len(table))
        )
    both = [*splits.train.stances, *splits.val.stances]
    assert Counter(both) == Counter(STANCES[i % 4] for i in range(30))  # "Discuss" read as discuss
    assert "\n" in splits.train.b[0]  # quoted bodies span lines
    positives = splits.train.positives()
    assert isinstance(positives, StanceTable) and set(positives.stances) <= {"discuss", "agree", "disagree"}


def test_val_is_whole_bodies_seeded_and_sized_by_val_fraction(tmp_path: Path) -> None:
    config = {"name": "fnc1", "path": str(write_fnc1(tmp_path)), "val_fraction": 0.3}
    splits = load_dataset(config)
    train_ids, val_ids = set(splits.train.keys_b), set(splits.val.keys_b)
    assert len(val_ids) == 3 and len(train_ids) == 7 and not train_ids & val_ids
    assert len(splits.val) == 9 and len(splits.train) == 21  # all 3 pairs of each held-out body
    assert set(load_dataset(config).val.keys_b) == val_ids
    others = {frozenset(load_dataset({**config, "seed": s}).val.keys_b) for s in range(1, 5)}
    assert others - {frozenset(val_ids)}
    assert len(set(load_dataset({**config, "val_fraction": 0.5}).val.keys_b)) == 5


def test_bodies_with_the_same_text_stay_together() -> None:
    rows = [fnc1_module.StanceRow(f"h{i}", str(i), "same" if i < 2 else f"b{i}", "agree") for i in range(6)]
    for seed in range(8):
        train, val = split_by_body(rows, val_fraction=0.25, seed=seed)
        assert not {r.body for r in train} & {r.body for r in val}
        assert {r.body_id for r in train} | {r.body_id for r in val} == {str(i) for i in range(6)}


def test_test_overlap_is_dropped_from_train(tmp_path: Path) -> None:
    pairs = [*TRAIN_PAIRS, ("Test headline", "3", "agree"), ("Fresh", "4", "discuss")]
    bodies = {**BODIES, "4": "A test body."}  # body 4 has the text of test body 100
    root = write_fnc1(tmp_path, train_pairs=pairs, bodies=bodies)
    kept = load_dataset({"name": "fnc1", "path": str(root), "val_fraction": 0.1})
    texts = {*kept.train.a, *kept.val.a, *kept.train.b, *kept.val.b}
    assert "Test headline" not in texts and "A test body." not in texts
    assert len(kept.train) + len(kept.val) == 27  # 32 pairs - 1 with the test headline - 4 with body 4
    every = load_dataset({"name": "fnc1", "path": str(root), "val_fraction": 0.1, "drop_test_overlap": False})
    assert len(every.train) + len(every.val) == 32


@pytest.mark.parametrize(
    ("file", "header", "rows", "message"),
    [
        ("train_stances.csv", ["Headline", "Body ID", "Label"], [("h", "0", "agree")],
         r"train_stances.csv: missing column 'Stance'; expected \['Headline', 'Body ID', 'Stance'\], found \['Headline', 'Body ID', 'Label'\]"),
        ("train_stances.csv", ["Headline", "Body ID", "Stance"], [("h", "0", "agree"), ("h", "1", "neutral")],
         "train_stances.csv: row 3: unknown stance 'neutral'; expected one of unrelated, discuss, agree, disagree"),
        ("competition_test_stances.csv", ["Headline", "Body ID", "Stance"], [("h", "999", "agree")],
         "competition_test_stances.csv: row 2: Body ID '999' has no body in competition_test_bodies.csv"),
        ("train_bodies.csv", ["Body ID", "text"], [("0", "x")],
         r"train_bodies.csv: missing column 'articleBody'; expected \['Body ID', 'articleBody'\]"),
        ("train_bodies.csv", ["Body ID", "articleBody"], [("0", "x"), ("0", "y")],
         "train_bodies.csv: row 3: Body ID 0 a second time; expected one row per body"),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_naming_the_file(
    tmp_path: Path, file: str, header: list[str], rows: list[tuple[str, ...]], message: str
) -> None:
    root = write_fnc1(tmp_path)
    write_csv(root / file, header, rows)
    with pytest.raises(DataError, match=message) as info:
        load_dataset({"name": "fnc1", "path": str(root)})
    assert "\n" not in str(info.value) and str(root / file) in str(info.value)


def test_a_file_that_is_not_utf8_csv_is_one_line(tmp_path: Path) -> None:
    root = write_fnc1(tmp_path)
    (root / "train_bodies.csv").write_bytes(b"Body ID,articleBody\n0,caf\xe9 \xff\n")  # Latin-1, not UTF-8
    with pytest.raises(DataError, match=r"train_bodies.csv: expected a UTF-8 CSV file with columns") as info:
        load_dataset({"name": "fnc1", "path": str(root)})
    assert "\n" not in str(info.value)


def test_a_missing_file_is_named_with_how_to_get_it(tmp_path: Path) -> None:
    root = write_fnc1(tmp_path)
    (root / "competition_test_bodies.csv").unlink()
    with pytest.raises(DataError) as info:
        load_dataset({"name": "fnc1", "path": str(root)})
    message = str(info.value)
    assert message.startswith("dataset 'fnc1' not found: expected competition_test_bodies.csv in ")
    assert "train_stances.csv" not in message and "download: true" in message and fnc1_module.BASE_URL in message


def test_download_fetches_the_four_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = write_fnc1(tmp_path / "served")
    monkeypatch.setattr(fnc1_module, "base_url", lambda: served.as_uri() + "/")  # the real fetch, from file://
    target = tmp_path / "data"
    splits = load_dataset({"name": "fnc1", "path": str(target), "download": True})
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in served.iterdir())
    assert len(splits.test) == 3


def test_real_files_counts_and_splits(data_dir: Path) -> None:
    root = data_dir / "fnc1"
    if not root.is_dir():
        pytest.skip(f"FNC-1 not found in {root}")
    every = load_dataset({"name": "fnc1", "path": str(root), "drop_test_overlap": False})
    train, val, test = every.train, every.val, every.test
    assert len(train) + len(val) == 49972 and len(test) == 25413
    assert len(set(train.keys_b) | set(val.keys_b)) == 1683 and len(set(test.keys_b)) == 904
    assert not set(train.keys_b) & set(val.keys_b) and not set(train.b) & set(val.b)
    assert Counter(train.stances) + Counter(val.stances) == {
        "unrelated": 36545,
        "discuss": 8909,
        "agree": 3678,
        "disagree": 840,
    }
    assert Counter(test.stances) == {"unrelated": 18349, "discuss": 4464, "agree": 1903, "disagree": 697}
    assert sum(test.labels) == 4464 + 1903 + 697
    assert len(set(val.b)) == round(0.1 * len(set(train.b) | set(val.b)))  # 10% of the distinct body texts
    kept = load_dataset({"name": "fnc1", "path": str(root)})  # default: drop pairs sharing text with the test set
    assert not ({*kept.train.a, *kept.train.b, *kept.val.a, *kept.val.b} & {*test.a, *test.b})
    assert 49000 < len(kept.train) + len(kept.val) < 49972
