"""``pair_table``: filters that log and refuse, neutral and numbered columns, header-less files, labels that mean
"different", graded columns and image paths resolved against the table's folder (as ``pairsim score`` does)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pairsim.cli.inputs import resolve_lines
from pairsim.data import load_dataset
from pairsim.errors import ConfigError, DataError


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _table(tmp_path: Path, **config: object) -> dict[str, object]:
    return {"name": "pair_table", "cache_dir": str(tmp_path / "hf"), **config}


def test_drop_test_overlap_logs_counts_and_refuses_past_max_filtered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 10 training pairs; 3 share a sentence with the test table
    train = _write(tmp_path / "train.csv", ["s1,s2,label"] + [f"t{i},u{i},{i % 2}" for i in range(10)])
    test = _write(tmp_path / "test.csv", ["s1,s2,label", "t0,x,1", "t1,y,0", "z,u2,1"])
    val = _write(tmp_path / "val.csv", ["s1,s2,label", "v0,w0,1", "v1,w1,0"])
    config = _table(tmp_path, path=str(train), val_path=str(val), test_path=str(test), column_a="s1", column_b="s2")
    with caplog.at_level(logging.INFO, logger="pairsim.data"):
        splits = load_dataset(config)
    assert len(splits.train) == 7
    assert "drop_test_overlap removed 3 of 10 train pairs (30.0%)" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records if "removed 3" in r.getMessage())  # past 20%
    with pytest.raises(DataError, match=r"drop_test_overlap removed 3 of 10 train pairs \(30%\), more than "
                       r"data.max_filtered=0.25; set data.drop_test_overlap=false"):  # fmt: skip
        load_dataset({**config, "max_filtered": 0.25})
    assert len(load_dataset({**config, "drop_test_overlap": False}).train) == 10


def test_drop_empty_is_logged_and_bounded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [f"a{i},b{i},{i % 2}" for i in range(18)] + [",b,1", "a,,0"]
    path = _write(tmp_path / "pairs.csv", ["sentence1,sentence2,label", *rows])
    with caplog.at_level(logging.INFO, logger="pairsim.data"):
        splits = load_dataset(_table(tmp_path, path=str(path)))
    assert sum(len(t) for _, t in splits.items()) == 18
    assert "drop_empty removed 2 of 20 table pairs (10.0%)" in caplog.text
    with pytest.raises(DataError, match=r"drop_empty removed 2 of 20 table pairs .*data.max_filtered=0.05"):
        load_dataset(_table(tmp_path, path=str(path), max_filtered=0.05))


def test_header_less_file_with_column_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.tsv", [f"id{i}\tleft {i}\tright {i}\t{i % 2}" for i in range(30)])
    config = _table(tmp_path, path=str(path), header=False, column_a=1, column_b=2, label=3)
    splits = load_dataset(config)
    rows = {a: (b, y) for _, t in splits.items() for a, b, y in zip(t.a, t.b, t.labels, strict=True)}
    assert len(rows) == 30 and rows["left 7"] == ("right 7", 1.0) and rows["left 0"] == ("right 0", 0.0)
    # with a header, numbers are positions too
    named = _write(tmp_path / "named.csv", ["x,first,second,y"] + [f"i{i},p{i},q{i},{i % 2}" for i in range(30)])
    table = load_dataset(_table(tmp_path, path=str(named), column_a=1, column_b="second", label=3)).train
    assert all(a.replace("p", "q") == b for a, b in zip(table.a, table.b, strict=True))
    with pytest.raises(DataError, match=r"column_a: column number 9 is out of range; the table has 4 columns"):
        load_dataset(_table(tmp_path, path=str(named), column_a=9, column_b=2, label=3))
    with pytest.raises(DataError, match=r"found columns \['0', '1', '2', '3'\] .*use column numbers"):
        load_dataset(_table(tmp_path, path=str(path), header=False))


def test_label_means_different_flips_labels(tmp_path: Path) -> None:
    lines = ["a,b,impostor"] + [f"x{i},y{i},{i % 3 == 0:d}" for i in range(30)]
    path = _write(tmp_path / "pairs.csv", lines)
    base = _table(tmp_path, path=str(path), column_a="a", column_b="b", label="impostor")
    same, flipped = load_dataset(base), load_dataset({**base, "label_means": "different"})
    for (_, s), (_, f) in zip(same.items(), flipped.items(), strict=True):
        assert s.a == f.a and [1.0 - y for y in s.labels] == f.labels
    assert sum(flipped.train.labels) > len(flipped.train) / 2  # 2 of 3 pairs are now "similar"


def test_text_a_is_an_alias_of_column_a(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.csv", ["q1,q2,label"] + [f"a{i},b{i},{i % 2}" for i in range(20)])
    old = load_dataset(_table(tmp_path, path=str(path), text_a="q1", text_b="q2"))
    new = load_dataset(_table(tmp_path, path=str(path), column_a="q1", column_b="q2"))
    assert old.train.a == new.train.a and old.test.b == new.test.b
    with pytest.raises(ConfigError, match="set column_a or its older name text_a, not both"):
        load_dataset(_table(tmp_path, path=str(path), text_a="q1", column_a="q2", column_b="q2"))


def test_graded_column_error_says_how(tmp_path: Path) -> None:
    path = _write(tmp_path / "sick.csv", ["sentence1,sentence2,relatedness"] + [f"a{i},b{i},{i % 5}" for i in range(9)])
    with pytest.raises(DataError, match=r"missing column 'label'.*label: null, score: <column> and binarize_at"):
        load_dataset(_table(tmp_path, path=str(path)))
    with pytest.raises(DataError, match=r"no label: .*label: null with score: <column> and binarize_at"):
        load_dataset(_table(tmp_path, path=str(path), label=None, score="relatedness"))
    graded = _write(tmp_path / "graded.csv", ["sentence1,sentence2,label"] + [f"a{i},b{i},{i % 5}" for i in range(9)])
    with pytest.raises(DataError, match=r"must be 0 or 1, found 2.0 \(a graded column: label: null, score"):
        load_dataset(_table(tmp_path, path=str(graded)))


def test_relative_image_paths_resolve_like_pairsim_score(tmp_path: Path) -> None:
    folder = tmp_path / "verification"
    folder.mkdir()
    relative = [f"faces/s{i}/1.pgm" for i in range(24)]
    lines = ["left,right,label"] + [f"{relative[2 * i]},{relative[2 * i + 1]},{i % 2}" for i in range(12)]
    table = _write(folder / "pairs.csv", lines)
    splits = load_dataset(
        _table(tmp_path, path=str(table), column_a="left", column_b="right", modality="image", drop_test_overlap=False)
    )
    loaded = {p for _, t in splits.items() for p in (*t.a, *t.b)}
    probes = _write(folder / "probes.txt", relative)  # a `pairsim score` input file beside the table
    assert loaded == set(resolve_lines(relative, probes, "image"))
    assert all(Path(p).is_absolute() and Path(p).is_relative_to(folder) for p in loaded)
    assert resolve_lines(["a text"], probes, "text") == ["a text"]
    assert resolve_lines(["/abs/x.png"], probes, "image") == ["/abs/x.png"]


def test_loading_names_each_split_once_without_datasets_bars(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    for name, n in (("train", 12), ("val", 4), ("test", 4)):
        _write(
            tmp_path / f"{name}.csv",
            ["sentence1,sentence2,label"] + [f"{name}{i},{name}x{i},{i % 2}" for i in range(n)],
        )
    paths = {"path": str(tmp_path / "train.csv"), "val_path": str(tmp_path / "val.csv"),
             "test_path": str(tmp_path / "test.csv")}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="pairsim.data"):
        load_dataset(_table(tmp_path, **paths))
    reads = [r.getMessage() for r in caplog.records if "reading the" in r.getMessage()]
    assert reads == [f"pair_table: reading the {s} table {tmp_path / (s + '.csv')}" for s in ("train", "val", "test")]
    assert "Generating train split" not in capfd.readouterr().err
