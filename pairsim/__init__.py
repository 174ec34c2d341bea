"""pairsim: learn and score the similarity of pairs (siamese and pseudo-siamese networks) in PyTorch.

Example:
    >>> from pairsim import PairModel, TOWERS, HEADS, LOSSES
    >>> "lstm" in TOWERS and "cosine" in HEADS and "contrastive" in LOSSES
    True
"""

__version__ = "0.1.0"

from pairsim.heads import HEADS, Head
from pairsim.losses import LOSSES, Loss
from pairsim.model import PairModel, PairModelConfig
from pairsim.towers import TOWERS, Tower

__all__ = [
    "HEADS",
    "LOSSES",
    "TOWERS",
    "Head",
    "Loss",
    "PairModel",
    "PairModelConfig",
    "Tower",
    "__version__",
]
