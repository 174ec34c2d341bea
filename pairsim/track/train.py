"""Training SiamFC: exemplar/search pairs from sequences, the balanced logistic loss over the response map, and
the loop (Adam, cosine decay, seeded), saving a model directory ``pairsim track`` loads."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from pairsim.config import bounded
from pairsim.track.geometry import center_of, context_size, crop
from pairsim.track.model import SiamFC

log = logging.getLogger("pairsim.train.track")  # train.log and stderr, as every run


class Frames(Protocol):
    """A sequence with boxes: ``len(seq)``, ``seq.frame(t)`` -> ``(H, W, 3)`` uint8 RGB, ``seq.boxes`` ``(T, 4)``."""

    boxes: np.ndarray

    def __len__(self) -> int: ...

    def frame(self, t: int) -> np.ndarray: ...


@dataclasses.dataclass(kw_only=True)
class PairSettings:
    """How training pairs are cut from a sequence."""

    max_gap: int = bounded(50, ge=0, le=10_000)  # frames between the exemplar and the search frame, at most
    shift: int = bounded(12, ge=0, le=128)  # random offset of the search crop's centre (search-crop pixels)
    scale_jitter: float = bounded(0.05, ge=0, lt=0.5)  # random relative change of the search crop's side
    radius: float = bounded(16.0, gt=0, le=256)  # positives lie within this many search-crop pixels of the target
    search_size: int | None = bounded(None, ge=63, le=1023)  # search crop for training (None: the model's)


def make_pair(
    seq: Frames, model: SiamFC, rng: np.random.Generator, settings: PairSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training pair: exemplar ``(Z, Z, 3)``, search ``(X, X, 3)`` uint8 crops and the target's position in
    the search crop ``(2,)`` (pixels from its centre)."""
    c = model.config
    i = int(rng.integers(len(seq)))
    j = int(np.clip(i + rng.integers(-settings.max_gap, settings.max_gap + 1), 0, len(seq) - 1))
    (xi, yi, wi, hi), (xj, yj, wj, hj) = seq.boxes[i], seq.boxes[j]
    side_z = context_size(wi, hi, c.context)
    exemplar = crop(seq.frame(i), xi + wi / 2, yi + hi / 2, side_z, c.exemplar_size)
    size = settings.search_size or c.search_size  # fully convolutional: training crops may be smaller
    side_x = context_size(wj, hj, c.context) * size / c.exemplar_size
    side_x *= float(np.exp(rng.uniform(-settings.scale_jitter, settings.scale_jitter)))
    shift = rng.integers(-settings.shift, settings.shift + 1, size=2)  # search-crop pixels
    per_pixel = side_x / size  # frame pixels per search-crop pixel
    cx, cy = center_of((xj, yj, wj, hj))
    search = crop(seq.frame(j), cx + shift[0] * per_pixel, cy + shift[1] * per_pixel, side_x, size)
    return exemplar, search, -shift.astype(np.float64)


def label_maps(offsets: np.ndarray, size: int, stride: int, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and balanced weights of response maps.

    Args:
        offsets: ``(N, 2)`` the target's position in each search crop, pixels from the crop's centre (x, y).
        size: Response map side ``R``.
        stride: Search-crop pixels per response cell.
        radius: Cells whose centre lies within this many search-crop pixels of the target are positive.

    Returns:
        ``(N, 1, R, R)`` labels in {0, 1} and ``(N, 1, R, R)`` weights: half the weight on the positives and half
        on the negatives of each map, summing to 1 per map.
    """
    cells = (np.arange(size) - (size - 1) / 2) * stride  # (R,) pixels from the centre
    dx = cells[None, None, :] - offsets[:, 0, None, None]  # (N, 1, R)
    dy = cells[None, :, None] - offsets[:, 1, None, None]  # (N, R, 1)
    labels = (dx**2 + dy**2 <= radius**2).astype(np.float32)  # (N, R, R)
    pos = labels.sum(axis=(1, 2), keepdims=True)  # (N, 1, 1)
    neg = size * size - pos
    weights = np.where(labels > 0, 0.5 / np.maximum(pos, 1), 0.5 / np.maximum(neg, 1)).astype(np.float32)
    return torch.from_numpy(labels)[:, None], torch.from_numpy(weights)[:, None]  # (N, 1, R, R) each


def logistic_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """SiamFC's loss: the weighted logistic loss over each response map, averaged over maps.

    Args:
        logits: ``(N, 1, R, R)``.
        labels: ``(N, 1, R, R)`` in {0, 1}.
        weights: ``(N, 1, R, R)``, summing to 1 per map.
    """
    per_cell = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")  # (N, 1, R, R)
    return (per_cell * weights).sum() / logits.shape[0]


@dataclasses.dataclass(kw_only=True)
class TrainSettings:
    """The loop's settings."""

    steps: int = bounded(1000, ge=0, le=10_000_000)
    batch_size: int = bounded(8, ge=1, le=4096)
    lr: float = bounded(1e-3, gt=0, le=1)
    weight_decay: float = bounded(5e-4, ge=0, le=1)
    seed: int = 0
    log_every: int = bounded(50, ge=1)
    save_every: int = bounded(0, ge=0)  # also save the model every this many steps (0: at the end only)


def train(
    model: SiamFC,
    sequences: Callable[[np.random.Generator], Frames] | Sequence[Frames],
    *,
    settings: TrainSettings,
    pairs: PairSettings | None = None,
    output_dir: str | Path | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` on pairs cut from ``sequences`` and save it to ``output_dir``.

    Args:
        model: The model to train (in place).
        sequences: Either a list of sequences, or a function making a new sequence from a random generator
            (synthetic data: every batch sees fresh sequences).
        settings: Steps, batch, learning rate, seed.
        pairs: How pairs are cut (defaults: :class:`PairSettings`).
        output_dir: Where to save the model (nothing is saved when None).
        on_log: Called with each log entry.

    Returns:
        The log: ``{"step", "loss", "seconds"}`` every ``log_every`` steps.
    """
    pairs = pairs or PairSettings()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, settings.steps))
    history: list[dict[str, Any]] = []
    model.train()
    start, running = time.perf_counter(), None
    for step in range(1, settings.steps + 1):
        batch = []
        for _ in range(settings.batch_size):
            seq = sequences(rng) if callable(sequences) else sequences[int(rng.integers(len(sequences)))]
            batch.append(make_pair(seq, model, rng, pairs))
        exemplars = SiamFC.to_tensor([b[0] for b in batch])  # (N, 3, Z, Z)
        searches = SiamFC.to_tensor([b[1] for b in batch])  # (N, 3, X, X)
        logits = model(exemplars, searches)  # (N, 1, R, R)
        labels, weights = label_maps(np.stack([b[2] for b in batch]), logits.shape[-1], model.stride, pairs.radius)
        loss = logistic_loss(logits, labels, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % settings.log_every == 0 or step == settings.steps:
            entry = {"step": step, "loss": running, "seconds": round(time.perf_counter() - start, 1)}
            history.append(entry)
            log.info("step %d/%d: loss %.4f (%.0f s)", step, settings.steps, running, entry["seconds"])
            if on_log:
                on_log(entry)
        if output_dir is not None and settings.save_every and step % settings.save_every == 0 and step < settings.steps:
            model.eval()
            model.save_pretrained(output_dir, metrics={"steps": step, "loss": running})
            model.train()
    model.eval()
    if output_dir is not None:
        model.save_pretrained(output_dir, metrics={"steps": settings.steps, "final_loss": running})
    return history
