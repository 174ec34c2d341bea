"""The ``hf_dataset`` source on a local copy of STS-B written here with ``datasets`` (a small slice of the shipped
files): a ``save_to_disk`` DatasetDict, a single saved Dataset, parquet, arrow and json files give the same
splits as the ``Dataset`` object handed to ``in_memory``; split and column mapping; a hub id offline is one
error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pairsim.data.sources import load_dataset
from pairsim.data.sources.in_memory import hold
from pairsim.data.sources.text_pairs import read_tsv
from pairsim.errors import DataError

GRADED = {"label": None, "score": "score", "binarize_at": 4.0}


def sts_columns(data_dir: Path, file: str, n: int) -> dict[str, list[Any]]:
    """The first ``n`` rows of an STS-B file as columns sentence1, sentence2, score (0-5)."""
    rows = read_tsv(data_dir / "stsbenchmark" / file, fields=7, where="stsb", limit=n)
    return {"sentence1": [r[5] for r in rows], "sentence2": [r[6] for r in rows], "score": [float(r[4]) for r in rows]}


@pytest.fixture
def stsb(data_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """A local STS-B DatasetDict (train 200, validation 60, test 60 rows), also saved to disk and as files."""
    import datasets

    parts = datasets.DatasetDict(
        {name: datasets.Dataset.from_dict(sts_columns(data_dir, f"sts-{file}.csv", n))
         for name, file, n in (("train", "train", 200), ("validation", "dev", 60), ("test", "test", 60))}
    )  # fmt: skip
    parts.save_to_disk(str(tmp_path / "stsb_disk"))
    parts["train"].save_to_disk(str(tmp_path / "train_disk"))
    parts["train"].to_parquet(str(tmp_path / "train.parquet"))
    parts["train"].to_json(str(tmp_path / "train.jsonl"))
    parts["validation"].to_parquet(str(tmp_path / "val.parquet"))
    return {"parts": parts, "dir": tmp_path, "cache": str(tmp_path / "hf")}


def tables(splits: Any) -> list[tuple[list[str], list[str], list[float], list[float]]]:
    return [(p.a, p.b, p.labels, p.scores) for _, p in splits.items()]


def test_a_save_to_disk_folder_gives_its_splits_graded(stsb: dict[str, Any]) -> None:
    splits = load_dataset({"name": "hf_dataset", "path": str(stsb["dir"] / "stsb_disk"), **GRADED})
    parts = stsb["parts"]
    assert splits.val.a == parts["validation"]["sentence1"] and splits.test.b == parts["test"]["sentence2"]
    assert splits.val.scores == parts["validation"]["score"]
    assert splits.val.labels == [float(s >= 4.0) for s in parts["validation"]["score"]]
    with hold(parts) as ref:  # the same DatasetDict object in Python: the same splits
        same = load_dataset({"name": "in_memory", "ref": ref, **GRADED})
    assert tables(same) == tables(splits)


def test_files_and_a_saved_dataset_give_the_same_carved_splits(stsb: dict[str, Any]) -> None:
    with hold(stsb["parts"]["train"]) as ref:
        expected = tables(load_dataset({"name": "in_memory", "ref": ref, **GRADED}))
    for name in ("train_disk", "train.parquet", "train.jsonl"):
        config = {"name": "hf_dataset", "path": str(stsb["dir"] / name), "cache_dir": stsb["cache"], **GRADED}
        assert tables(load_dataset(config)) == expected, name


def test_split_and_column_mapping(stsb: dict[str, Any]) -> None:
    folder = str(stsb["dir"] / "stsb_disk")
    swapped = load_dataset({"name": "hf_dataset", "path": folder, "column_a": "sentence2", "column_b": "sentence1",
                            "val_split": "test", "test_split": "validation", **GRADED})  # fmt: skip
    parts = stsb["parts"]
    assert swapped.val.a == parts["test"]["sentence2"] and swapped.test.b == parts["validation"]["sentence1"]
    carved = load_dataset({"name": "hf_dataset", "path": folder, "val_split": None, "test_split": None, **GRADED})
    assert sum(len(p) for _, p in carved.items()) <= 200 and len(carved.val) > 0
    with_val = load_dataset({"name": "hf_dataset", "path": str(stsb["dir"] / "train.parquet"),
                             "val_path": str(stsb["dir"] / "val.parquet"), "cache_dir": stsb["cache"], **GRADED})  # fmt: skip
    assert with_val.val.a == parts["validation"]["sentence1"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"label": "label"}, r"hf_dataset .*stsb_disk train: missing column 'label'; found columns \['sentence1', "
                             r"'sentence2', 'score'\] \(set label=<column>\)"),
        ({"label": None, "score": "score"}, r"graded column 'score' and no 0/1 label; set binarize_at"),
        ({**GRADED, "train_split": "training"}, r"no split 'training'; found splits \['train', 'validation', "
                                                r"'test'\] \(set train_split\)"),
    ],
)  # fmt: skip
def test_mapping_errors_name_the_setting(stsb: dict[str, Any], config: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset({"name": "hf_dataset", "path": str(stsb["dir"] / "stsb_disk"), **config})


def test_a_hub_id_offline_and_a_missing_path_are_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"^hf_dataset: sentence-transformers/stsb is not a local folder or file, and "
                                        r"the hub is off \(HF_HUB_OFFLINE is set\); save the dataset"):  # fmt: skip
        load_dataset({"name": "hf_dataset", "path": "sentence-transformers/stsb"})
    with pytest.raises(DataError, match=r"hf_dataset: .*nothing.parquet not found; expected a save_to_disk folder"):
        load_dataset({"name": "hf_dataset", "path": str(tmp_path / "nothing.parquet")})
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match=r"^hf_dataset: cannot read .*bad.parquet: "):
        load_dataset({"name": "hf_dataset", "path": str(bad), "cache_dir": str(tmp_path / "hf")})


def test_a_hub_id_online_is_read_through_datasets_without_remote_code(
    stsb: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_load(path: str, **kwargs: Any) -> Any:  # stands in for the hub: the local copy
        calls.append((path, kwargs))
        return stsb["parts"]

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    splits = load_dataset({"name": "hf_dataset", "path": "nyu-mll/glue", "subset": "stsb", "revision": "main",
                           **GRADED})  # fmt: skip
    assert splits.test.a == stsb["parts"]["test"]["sentence1"]
    assert calls == [("nyu-mll/glue", {"cache_dir": None, "name": "stsb", "revision": "main",
                                       "trust_remote_code": False})]  # fmt: skip
