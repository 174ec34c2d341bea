"""Tokenise each distinct text once, in batches, through the ``datasets`` library.

``Dataset.from_dict({"text": ...}).map(featurize, batched=True)`` runs the tower's ``featurize`` over the
distinct texts; with a ``cache_dir`` the result is written to an Arrow file keyed by the tower and the texts,
and a later run with the same tower config and texts reads it back instead of tokenising again.

Example:
    >>> class Lengths:
    ...     config = "len"
    ...     def featurize(self, texts): return [{"x": len(t)} for t in texts]
    >>> tokenize_texts(Lengths(), ["ab", "abc", "ab"])
    {'ab': {'x': 2}, 'abc': {'x': 3}}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

Features = dict[str, Any]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import datasets

    was_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            datasets.enable_progress_bars()


def fingerprint(tower: Any, texts: Sequence[str]) -> str:
    """A hash of the tower's class and config (plus its ``featurize_fingerprint()`` if it has one) and the texts."""
    h = hashlib.sha256()
    h.update(f"{type(tower).__module__}.{type(tower).__qualname__}|{tower.config!r}".encode())
    extra = getattr(tower, "featurize_fingerprint", None)
    if callable(extra):  # e.g. a word tower's vocabulary, which the config alone does not pin down
        h.update(str(extra()).encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def tokenize_texts(
    tower: Any, texts: Sequence[str], *, cache_dir: str | Path | None = None, batch_size: int = 1000
) -> dict[str, Features]:
    """Features of each distinct text, computed once by ``tower.featurize`` in batches.

    Args:
        tower: Anything with ``featurize(list[str]) -> list[dict]`` and a ``config``.
        texts: Texts (duplicates are tokenised once).
        cache_dir: Folder for the Arrow cache; None keeps everything in memory.
        batch_size: Texts per ``featurize`` call.

    Returns:
        ``{text: features}``; tensor / array feature values come back as tensors / arrays.
    """
    import datasets

    unique = list(dict.fromkeys(texts))
    if not unique:
        return {}
    kinds: dict[str, str] = {}

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        feats = tower.featurize(batch["text"])
        columns: dict[str, list[Any]] = {}
        for key in feats[0]:
            values = [f[key] for f in feats]
            if isinstance(values[0], torch.Tensor):
                kinds[key] = f"tensor:{values[0].dtype}"
                values = [v.tolist() for v in values]
            elif isinstance(values[0], np.ndarray):
                kinds[key] = f"array:{values[0].dtype}"
                values = [v.tolist() for v in values]
            columns[f"feature.{key}"] = values
        return columns

    table = datasets.Dataset.from_dict({"text": unique})
    kwargs: dict[str, Any] = {"keep_in_memory": True}
    kinds_file: Path | None = None
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        fp = fingerprint(tower, unique)
        kinds_file = Path(cache_dir) / f"tokens-{fp}.kinds.json"
        cache_file = Path(cache_dir) / f"tokens-{fp}.arrow"
        if cache_file.is_file() and kinds_file.is_file():  # value kinds (tensor / array) of a cached run
            kinds.update(json.loads(kinds_file.read_text()))
        elif cache_file.is_file():  # an interrupted earlier run: tokenise again
            cache_file.unlink()
        kwargs = {"cache_file_name": str(cache_file), "load_from_cache_file": True, "new_fingerprint": fp}
    with _quiet():
        out = table.map(encode, batched=True, batch_size=batch_size, remove_columns=["text"], **kwargs)
    if kinds_file is not None:
        kinds_file.write_text(json.dumps(kinds))
    columns = {name.removeprefix("feature."): list(out[name]) for name in out.column_names}
    return {text: {k: _restore(col[i], kinds.get(k)) for k, col in columns.items()} for i, text in enumerate(unique)}


def _restore(value: Any, kind: str | None) -> Any:
    if kind is None:
        return value
    what, _, dtype = kind.partition(":")
    if what == "tensor":
        return torch.tensor(value, dtype=getattr(torch, dtype.removeprefix("torch.")))
    return np.asarray(value, dtype=dtype)
