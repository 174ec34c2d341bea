"""Reading one table file (CSV, TSV, JSON lines or parquet) through the ``datasets`` library.

Shared by the ``pair_table`` and ``negatives_table`` sources and by ``data.train_negatives``.

Example:
    >>> # rows = read_table(Path("pairs.csv"), "auto", None).to_list()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pairsim.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def read_table(path: Path, fmt: str, cache_dir: str | None, *, header: bool = True) -> Any:
    """Load a file as a ``datasets.Dataset`` (cached as Arrow under ``cache_dir`` or the datasets cache).

    Raises:
        DataError: The file is missing or cannot be parsed; the message names it.
    """
    import datasets

    if not path.is_file():
        raise DataError(f"pair table not found: {path}")
    if fmt == "auto":
        fmt = FORMATS.get(path.suffix.lower(), "")
        if not fmt:
            raise DataError(f"{path}: cannot tell the format from the suffix; set format: csv, tsv, json or parquet")
    builder, kwargs = {
        "csv": ("csv", {}),
        "tsv": ("csv", {"sep": "\t", "quoting": 3}),  # 3 = csv.QUOTE_NONE: tab files carry raw quotes
        "json": ("json", {}),
        "parquet": ("parquet", {}),
    }[fmt]
    if not header:
        if builder != "csv":
            raise DataError(f"{path}: header: false needs a csv or tsv table ({fmt} files name their columns)")
        kwargs = {**kwargs, "header": None}  # columns are then named "0", "1", ...
    quiet = datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()  # its "Generating train split" bar is wrong for val/test files
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache_dir, **kwargs)
    except Exception as err:  # datasets raises many types (pyarrow, pandas, its own)
        raise DataError(f"cannot read {path} as {fmt}: {type(err).__name__}: {err}") from None
    finally:
        if quiet:
            datasets.utils.logging.enable_progress_bar()
