"""``hf_dataset``: a Hugging Face ``datasets`` dataset in a recipe, read through the ``datasets`` library.

``path`` is one of:

* a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (read with ``load_from_disk``);
* a data file: ``.parquet``, ``.arrow``, ``.csv``, ``.tsv``, ``.json`` / ``.jsonl`` (one table; val and test are
  carved from it, or named with ``val_path`` / ``test_path``);
* a folder of such files in the hub's layout (``data/train-*.parquet``, ``test.csv``, ...);
* a hub id (``sentence-transformers/stsb``, ``nyu-mll/glue`` with ``subset: mrpc``), fetched only when online.
  A dataset is never run as code: ``datasets`` 4+ has no loading scripts, and pairsim never passes
  ``trust_remote_code``. With ``HF_HUB_OFFLINE=1`` or no network it is one error naming the id.

Split names map with ``train_split`` / ``val_split`` / ``test_split`` (auto: ``validation``, ``val``, ``valid``
or ``dev``; ``test``) and columns with the mapping of :class:`~pairsim.data.sources.table.TableConfig`
(``column_a``, ``column_b``, ``label``, ``score``, ``binarize_at``, ...): a recipe reads a ``datasets`` dataset
exactly as ``pairsim.fit`` reads the same ``Dataset`` object.

Example:
    >>> # load_dataset({"name": "hf_dataset", "path": "stsb_disk", "label": None, "score": "score",
    >>> #               "binarize_at": 0.8})
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Any, Literal

from pairsim.data.sources.base import DATASETS, Source
from pairsim.data.sources.in_memory import is_split_mapping
from pairsim.data.sources.table import TableConfig, pick_splits, table_splits
from pairsim.data.types import Splits
from pairsim.errors import DataError

log = logging.getLogger("pairsim.data")
SUFFIXES = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "json"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE",
                                                                                             "HF_DATASETS_OFFLINE"))  # fmt: skip


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a ``datasets`` loader without its progress bars; any error it raises becomes the caller's to word."""
    import datasets

    shown = datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()
    try:
        return fn(*args, **kwargs)
    finally:
        if shown:
            datasets.utils.logging.enable_progress_bar()


@DATASETS.register("hf_dataset")
class HFDataset(Source["HFDataset.Config"]):
    """A ``datasets`` folder, file or hub dataset as the data kind its columns describe."""

    @dataclasses.dataclass(kw_only=True)
    class Config(TableConfig):
        name: str = "hf_dataset"
        path: str  # save_to_disk folder, data file (parquet, arrow, csv, tsv, json), folder of data files or hub id
        val_path: str | None = None  # a data file of validation rows (a path given as a file only)
        test_path: str | None = None  # a data file of test rows
        format: Literal["auto", "parquet", "arrow", "csv", "tsv", "json"] = "auto"  # data files; auto: suffix
        subset: str | None = None  # hub id: the dataset's configuration (GLUE: mrpc, stsb, qqp)
        revision: str | None = None  # hub id: a branch, tag or commit
        cache_dir: str | None = None  # datasets cache folder (None: the datasets default)

    def root(self) -> Path:
        return Path(self.config.path).expanduser()

    def _read(self, path: str) -> Any:
        """A Dataset or DatasetDict from a local folder, file or hub id."""
        import datasets

        cfg = self.config
        p = Path(path).expanduser()
        if p.is_dir():
            if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
                try:
                    return _quietly(datasets.load_from_disk, str(p))
                except Exception as err:  # datasets / pyarrow raise many types
                    raise DataError(f"hf_dataset: cannot read the save_to_disk folder {p}: {_why(err)}") from None
            return self._call(str(p), where=f"the data files in {p}")
        if p.is_file():
            fmt = cfg.format if cfg.format != "auto" else SUFFIXES.get(p.suffix.lower())
            if fmt is None:
                raise DataError(f"hf_dataset: cannot tell the format of {p} from its suffix; set format: one of "
                                f"{', '.join(sorted(set(SUFFIXES.values())))}")  # fmt: skip
            builder, kwargs = ("csv", {"sep": "\t"}) if fmt == "tsv" else (fmt, {})
            return self._call(builder, where=str(p), data_files=str(p), split="train", **kwargs)
        if p.is_absolute() or path.startswith((".", "~")) or not HUB_ID.match(path):
            raise DataError(f"hf_dataset: {path} not found; expected a save_to_disk folder, a data file "
                            "(parquet, arrow, csv, tsv, json) or a hub id")  # fmt: skip
        if _offline():
            raise DataError(f"hf_dataset: {path} is not a local folder or file, and the hub is off (HF_HUB_OFFLINE "
                            "is set); save the dataset with save_to_disk where it is online and set path to that "
                            "folder")  # fmt: skip
        log.info("hf_dataset: reading %s from the Hugging Face hub", path)
        return self._call(path, where=f"hub dataset {path}", name=cfg.subset, revision=cfg.revision)

    def _call(self, path: str, *, where: str, **kwargs: Any) -> Any:
        import datasets

        # never code from a dataset: datasets 4+ has no loading scripts and drops this flag when false; older
        # versions (pyproject allows >= 2.20) refuse a script with it
        kwargs["trust_remote_code"] = False
        try:
            return _quietly(datasets.load_dataset, path, cache_dir=self.config.cache_dir, **kwargs)
        except Exception as err:  # connection errors, missing files, parse errors: one line naming the input
            raise DataError(f"hf_dataset: cannot read {where}: {_why(err)}") from None

    def _file(self, path: str | None, setting: str) -> Any:
        if path is None:
            return None
        if not Path(path).expanduser().is_file():
            raise DataError(f"hf_dataset: {setting} {path} not found; expected a data file")
        return self._read(path)

    def load(self) -> Splits[Any]:
        cfg = self.config
        data = self._read(cfg.path)
        val, test = self._file(cfg.val_path, "val_path"), self._file(cfg.test_path, "test_path")
        if is_split_mapping(data):
            train, dict_val, dict_test = pick_splits(data, cfg, where=f"hf_dataset {cfg.path}")
            val = val if val is not None else dict_val
            test = test if test is not None else dict_test
        else:
            train = data
        return table_splits(train, val, test, cfg, where=f"hf_dataset {cfg.path}")


def _why(err: Exception) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
