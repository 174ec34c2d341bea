"""Online triplet mining on a batch of class-labelled embeddings (Hermans et al. 2017; Schroff et al. 2015).

All functions work on a signed similarity matrix ``sim`` (higher = more similar, whatever the head) and
return the per-triplet hinge values ``margin - (sim_ap - sim_an)`` of the triplets they select.
"""

from __future__ import annotations

import torch


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same  # positives (excluding self), negatives


def batch_all(sim: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Every valid (anchor, positive, negative) triplet; returns the hinge values of those still violating."""
    pos, neg = _masks(labels)
    hinge = margin - (sim[:, :, None] - sim[:, None, :])  # (B, B, B): [a, p, n]
    valid = pos[:, :, None] & neg[:, None, :]  # (B, B, B)
    values = torch.relu(hinge[valid])
    active = values[values > 0]
    return active if active.numel() else values.sum().reshape(1) * 0  # keep the graph when all are satisfied


def batch_hard(sim: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """For each anchor its hardest positive (least similar) and hardest negative (most similar)."""
    pos, neg = _masks(labels)
    inf = torch.finfo(sim.dtype).max
    hardest_pos = sim.masked_fill(~pos, inf).min(dim=1).values  # (B,)
    hardest_neg = sim.masked_fill(~neg, -inf).max(dim=1).values  # (B,)
    ok = pos.any(dim=1) & neg.any(dim=1)  # anchors with both
    return torch.relu(margin - (hardest_pos - hardest_neg))[ok]


def semi_hard(sim: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """FaceNet's semi-hard negatives: for each (anchor, positive), the most similar negative that is still
    less similar than the positive; when there is none, the least similar negative."""
    pos, neg = _masks(labels)
    inf = torch.finfo(sim.dtype).max
    sim_ap = sim[:, :, None]  # (B, B, 1): [a, p, -]
    sim_an = sim[:, None, :]  # (B, 1, B): [a, -, n]
    semi = neg[:, None, :] & (sim_an < sim_ap)  # (B, B, B)
    hardest_semi = sim_an.expand_as(semi).masked_fill(~semi, -inf).max(dim=2).values  # (B, B)
    easiest = sim.masked_fill(~neg, inf).min(dim=1).values[:, None].expand_as(hardest_semi)  # (B, B)
    chosen = torch.where(semi.any(dim=2), hardest_semi, easiest)  # (B, B)
    ok = pos & neg.any(dim=1, keepdim=True)
    return torch.relu(margin - (sim - chosen))[ok]


MINERS = {"batch_all": batch_all, "batch_hard": batch_hard, "semi_hard": semi_hard}
