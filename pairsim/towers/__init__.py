"""Towers, by registered name: ``cnn``, ``mlp``, ``torchvision``, ``timm``, ``lstm``, ``transformer``,
``pair_tokens`` (a cross-encoder's side: token ids).

Each is a lazy registry entry (:meth:`pairsim.registry.Registry.lazy`): its module, and the library it needs
(transformers, torchvision, timm), is imported when a model first asks for that tower, so building a CNN never
imports transformers and a text model never imports torchvision.
"""

from pairsim.towers.base import TOWERS, Batch, Features, Tower, TowerConfig

for _name, _module in (
    ("cnn", "cnn"),
    ("lstm", "lstm"),
    ("mlp", "mlp"),
    ("pair_tokens", "pair_tokens"),
    ("timm", "timm_tower"),
    ("torchvision", "torchvision_tower"),
    ("transformer", "transformer"),
):
    TOWERS.lazy(_name, f"pairsim.towers.{_module}")

__all__ = ["TOWERS", "Batch", "Features", "Tower", "TowerConfig"]
