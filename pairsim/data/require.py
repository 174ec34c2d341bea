"""Refuse empty splits up front, naming the recipe setting that decides their size.

Example:
    >>> from pairsim.data import LabelledItems, Splits
    >>> from pairsim.data.sources.digits import Digits
    >>> some, empty = LabelledItems(items=[1, 2], labels=[0, 1]), LabelledItems(items=[], labels=[])
    >>> require_splits(Splits(train=some, val=empty, test=some), Digits.Config(val_fraction=0.0))
    Traceback (most recent call last):
    ...
    pairsim.errors.DataError: the val split of dataset 'digits' is empty: data.val_fraction is 0.0; raise it, or check the data files
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairsim.errors import DataError


def require_splits(splits: Any, config: Any, *, needed: Sequence[str] = ("train", "val", "test")) -> None:
    """Raise a one-line DataError if one of the needed splits has no items.

    Args:
        splits: The dataset's :class:`~pairsim.data.types.Splits`.
        config: The dataset's config (its ``name`` and, when it has them, ``val_fraction`` / ``test_fraction``).
        needed: Which splits must hold data.

    Raises:
        DataError: Names the split, the dataset and the setting that decides its size.
    """
    for name in needed:
        if len(getattr(splits, name)) == 0:
            raise DataError(f"the {name} split of dataset {config.name!r} is empty: {_setting(name, config)}")


def _setting(split: str, config: Any) -> str:
    key = f"{split}_fraction"
    if hasattr(config, key):
        return f"data.{key} is {getattr(config, key)}; raise it, or check the data files"
    return "check the data files and the data section of the recipe"
