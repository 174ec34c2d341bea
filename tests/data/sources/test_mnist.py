"""The IDX reader and the MNIST-format sources (``mnist``, ``fashion_mnist``): tiny IDX files written here
(gzipped and raw), the promised one-line errors, both split modes, and the real Fashion-MNIST files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from pairsim.data.idx import read_idx
from pairsim.data.sources import load_dataset
from pairsim.data.sources.mnist import FILES, read_images_labels, split_indices
from pairsim.errors import DataError

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
         np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}  # fmt: skip


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``, written from the format's definition (magic, big-endian dims, data)."""
    header = bytes([0, 0, CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_dataset(root: Path, *, n_train: int = 8, n_test: int = 4, classes: int = 10, gz: bool = True) -> None:
    """A tiny MNIST-format folder: ``n_train`` / ``n_test`` 6x6 images per class, image i filled with i % 256."""
    root.mkdir(parents=True, exist_ok=True)
    for part, per in (("train", n_train), ("t10k", n_test)):
        labels = np.tile(np.arange(classes, dtype=np.uint8), per)  # 0 1 ... 9 0 1 ...
        images = np.stack([np.full((6, 6), i % 256, dtype=np.uint8) for i in range(len(labels))])
        suffix = ".gz" if gz else ""
        write_idx(root / f"{part}-images-idx3-ubyte{suffix}", images, gz=gz)
        write_idx(root / f"{part}-labels-idx1-ubyte{suffix}", labels, gz=gz)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_gives_back_what_was_written(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    wide = np.array([[1, 256], [-3, 70000]], dtype=np.int32)  # bytes in big-endian order on disk
    floats = np.array([0.5, -2.25], dtype=np.float32)
    for name, array in (("images", images), ("wide", wide), ("floats", floats)):
        back = read_idx(write_idx(tmp_path / f"{name}.idx", array, gz=gz))
        assert back.dtype == array.dtype and back.dtype.isnative and back.shape == array.shape
        assert np.array_equal(back, array)
    assert np.array_equal(read_idx(tmp_path / "images.idx", limit=2), images[:2])
    assert read_idx(tmp_path / "images.idx", limit=99).shape == (3, 4, 5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n....", r"not an IDX file: expected a magic number 00 00 <type .*>, found 89 50 4e 47"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", r"not an IDX file: .* found 00 00 07 01"),  # unknown type code
        (b"", "not an IDX file: .* found an empty file"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "IDX header announces 3 dimensions but the file ends inside the header"),
        (idx_bytes(np.zeros((2, 3), np.uint8))[:-1], r"announces shape \(2, 3\) \(6 bytes of data\) but .* holds 5"),
        (idx_bytes(np.zeros((2, 3), np.uint8)) + b"\x00", r"more data than the IDX header's shape \(2, 3\) announces"),
        (b"\x1f\x8b\x08\x00garbage", "cannot read IDX file"),  # a gzip signature, then no gzip stream
    ],
)
def test_malformed_idx_is_one_line_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_idx_file_and_mismatched_label_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"IDX file not found: .*nope"):
        read_idx(tmp_path / "nope")
    images = write_idx(tmp_path / "x.gz", np.zeros((3, 2, 2), np.uint8), gz=True)
    labels = write_idx(tmp_path / "y.gz", np.zeros(4, np.uint8), gz=True)
    with pytest.raises(DataError, match=r"y.gz: 4 labels for the 3 images of x.gz"):
        read_images_labels(images, labels)
    with pytest.raises(DataError, match=r"z.gz: expected \(N,\) uint8 labels, found int32"):
        read_images_labels(images, write_idx(tmp_path / "z.gz", np.zeros(3, np.int32), gz=True))
    with pytest.raises(
        DataError, match=r"y.gz: expected \(N, height, width\) uint8 images, found uint8 of shape \(4,\)"
    ):
        read_images_labels(labels, labels)


@pytest.mark.parametrize("gz", [True, False])
def test_standard_split_keeps_the_test_file_and_stratifies_val(tmp_path: Path, gz: bool) -> None:
    write_dataset(tmp_path, gz=gz)
    splits = load_dataset({"name": "mnist", "path": str(tmp_path), "val_fraction": 0.25})
    assert [len(d) for _, d in splits.items()] == [60, 20, 40]
    assert all(d.classes() == list(range(10)) for _, d in splits.items())
    assert all(d.labels.count(c) == 2 for c in range(10) for d in [splits.val])
    x = splits.test.items[13]
    assert x.shape == (6, 6) and x.dtype == np.uint8 and x[0, 0] == 13 and splits.test.labels[13] == 3
    train_ids = {int(x[0, 0]) for x in splits.train.items}  # image i holds the value i
    val_ids = {int(x[0, 0]) for x in splits.val.items}
    assert not train_ids & val_ids and len(train_ids | val_ids) == 80
    again = load_dataset({"name": "mnist", "path": str(tmp_path), "val_fraction": 0.25})
    assert [int(x[0, 0]) for x in again.val.items] == [int(x[0, 0]) for x in splits.val.items]
    other = load_dataset({"name": "mnist", "path": str(tmp_path), "val_fraction": 0.25, "seed": 1})
    assert {int(x[0, 0]) for x in other.val.items} != val_ids


def test_class_split_shares_no_class(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    config = {"name": "fashion_mnist", "path": str(tmp_path), "split": "classes"}
    splits = load_dataset({**config, "val_classes": [3, 4], "test_classes": [7, 8, 9]})
    classes = [set(d.labels) for _, d in splits.items()]
    assert classes == [{0, 1, 2, 5, 6}, {3, 4}, {7, 8, 9}]
    assert [len(d) for _, d in splits.items()] == [40, 16, 12]  # val from the training file, test from t10k
    default = load_dataset(config)  # train on 0-4, val on 5-6, test on 7-9
    assert [sorted(set(d.labels)) for _, d in default.items()] == [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]
    carved = load_dataset({**config, "val_classes": [], "test_classes": [5, 6, 7, 8, 9], "val_fraction": 0.25})
    assert [sorted(set(d.labels)) for _, d in carved.items()] == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert [len(d) for _, d in carved.items()] == [30, 10, 20]  # val: a quarter of each training class's images
    for val_classes, test_classes in [([3], [3, 4]), ([], [11]), ([], []), ([0, 1, 2, 3], [4, 5, 6, 7, 8, 9])]:
        with pytest.raises(DataError, match=r"fashion_mnist: val_classes .* must be disjoint"):
            load_dataset({**config, "val_classes": val_classes, "test_classes": test_classes})


def test_limit_and_per_class_shrink_each_file(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    small = load_dataset({"name": "mnist", "path": str(tmp_path), "limit": 30, "val_fraction": 0.0})
    assert (len(small.train), len(small.val), len(small.test)) == (30, 0, 30)
    assert [int(x[0, 0]) for x in small.test.items] == list(range(30))
    few = load_dataset({"name": "mnist", "path": str(tmp_path), "per_class": 2, "val_fraction": 0.0})
    assert [few.train.labels.count(c) for c in range(10)] == [2] * 10 and len(few.test) == 20


def test_download_fetches_the_four_files_from_the_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    write_dataset(mirror)  # served as file:// URLs: the real download code, no network
    target = tmp_path / "data"
    config = {"name": "mnist", "path": str(target), "mirror": mirror.as_uri(), "val_fraction": 0.0}
    with pytest.raises(DataError, match=r"dataset 'mnist' not found: .*download: true .*ossci-datasets"):
        load_dataset({**config, "mirror": None})
    splits = load_dataset({**config, "download": True})
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{s}.gz" for s in FILES.values())
    assert len(splits.train) == 80 and len(splits.test) == 40


def test_split_indices_is_a_pure_function_of_the_labels() -> None:
    train, val, test = split_indices(
        [0, 1, 2, 0, 1, 2], [2, 1, 0], split="classes", val_fraction=0.0, val_classes=[], test_classes=[2], seed=0,
        where="x",
    )  # fmt: skip
    assert (train, val, test) == ([0, 1, 3, 4], [], [0])


def test_real_fashion_mnist_files(data_dir: Path) -> None:
    root = data_dir / "fashion_mnist"
    if not root.is_dir():
        pytest.skip(f"Fashion-MNIST not found in {root}")
    x, y = read_images_labels(root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert np.bincount(y).tolist() == [6000] * 10
    x, y = read_images_labels(root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and np.bincount(y).tolist() == [1000] * 10
    splits = load_dataset({"name": "fashion_mnist", "path": str(root)})
    assert [len(d) for _, d in splits.items()] == [54000, 6000, 10000]
    assert splits.test.items[0].shape == (28, 28) and splits.test.labels[:3] == y[:3].tolist()
