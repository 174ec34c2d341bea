"""A short fingerprint of a split's content, to tell later whether two runs saw the same data.

A trained model records the fingerprint of the validation split its decision threshold was calibrated on
(``PairModelConfig.threshold_data``); ``pairsim eval MODEL RECIPE`` compares it with the recipe's validation split
and warns when they differ (a threshold calibrated on other data gives misleading accuracy and F1).

What is hashed: the data's kind, its labels, scores and classes, and its items: texts and paths as they are,
arrays by their bytes; items read lazily from disk (rotated Omniglot copies) by their count only, so taking a
fingerprint never loads an image.

Example:
    >>> from pairsim.data.types import LabelledItems
    >>> data = LabelledItems(items=["a", "b"], labels=[0, 1], modality="text")
    >>> split_fingerprint(data) == split_fingerprint(LabelledItems(items=["a", "b"], labels=[0, 1], modality="text"))
    True
    >>> split_fingerprint(data) == split_fingerprint(LabelledItems(items=["a", "c"], labels=[0, 1], modality="text"))
    False
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

DIGITS = 16  # hex digits kept: enough to tell splits apart, short enough to read in a config


def _update(digest: Any, value: Any) -> None:
    """Feed one value (a column, an item) into the hash."""
    if value is None or isinstance(value, (str, int, float, bool)):
        digest.update(f"{type(value).__name__}:{value}\x1f".encode())
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)}\x1f".encode())
        for v in value:
            _update(digest, v)
    elif isinstance(value, Sequence):  # a lazy sequence (items read from disk when indexed): its size only
        digest.update(f"{type(value).__name__}[{len(value)}]\x1f".encode())
    elif hasattr(value, "shape") and hasattr(value, "dtype"):  # numpy arrays, torch tensors
        array = np.ascontiguousarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        digest.update(f"{array.dtype}{array.shape}\x1f".encode())
        digest.update(array.tobytes())
    else:
        digest.update(f"{type(value).__name__}\x1f".encode())


def split_fingerprint(data: Any) -> str:
    """``sha256:<16 hex digits>`` of a split's content (labelled items, pair table or caption-image data).

    Args:
        data: The split.

    Returns:
        The same string for the same content, loaded by any recipe.
    """
    digest = hashlib.sha256(type(data).__name__.encode())
    for field in dataclasses.fields(data):
        digest.update(f"{field.name}=".encode())
        _update(digest, getattr(data, field.name))
    return f"sha256:{digest.hexdigest()[:DIGITS]}"


def calibration_record(dataset: str, split: str, data: Any) -> str:
    """What a model records of the data its threshold was calibrated on: ``"<dataset> <split> sha256:<hex>"``.

    Example:
        >>> from pairsim.data.types import LabelledItems
        >>> calibration_record("digits", "val", LabelledItems(items=["a"], labels=[0])).split()[:2]
        ['digits', 'val']
    """
    return f"{dataset} {split} {split_fingerprint(data)}"


def same_data(record: str, data: Any) -> bool:
    """Whether ``data`` is the split a :func:`calibration_record` describes (its fingerprint, whatever the name)."""
    return record.rsplit(" ", 1)[-1] == split_fingerprint(data)
