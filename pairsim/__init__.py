"""pairsim: learn and score the similarity of pairs (siamese and pseudo-siamese networks) in PyTorch.

The public names are imported on first use (:pep:`562` module ``__getattr__``), so ``import pairsim``,
``import pairsim.metrics`` or the command line's ``--help`` load no torch, and a model loads only the libraries
its towers need (tests/test_startup.py). A new public name is one row of ``_EXPORTS``: name -> module.

Example:
    >>> from pairsim import PairModel, TOWERS, HEADS, LOSSES
    >>> "lstm" in TOWERS and "cosine" in HEADS and "contrastive" in LOSSES
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {  # public name -> the module defining it, imported when the name is first used
    "HEADS": "pairsim.heads",
    "Head": "pairsim.heads",
    "LOSSES": "pairsim.losses",
    "Loss": "pairsim.losses",
    "TOWERS": "pairsim.towers",
    "Tower": "pairsim.towers",
    "PairModel": "pairsim.model",
    "PairModelConfig": "pairsim.model",
    "DATASETS": "pairsim.data",
    "SAMPLERS": "pairsim.data",
    "Recipe": "pairsim.recipe",
    "fit": "pairsim.train.api",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pairsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
