"""GradCache (Gao et al. 2021): a loss over a large batch at the memory of a mini-batch, with the same gradients.

Contrastive losses need the whole batch's embeddings at once, but the towers need not keep the graph of every
row: :func:`cached_step`

1. embeds every slot's rows mini-batch by mini-batch **without** a graph, keeping only the ``(B, D)`` embeddings
   (and each mini-batch's random state, so dropout can be replayed);
2. computes the loss on those embeddings as leaf tensors, so ``loss.backward()`` gives the loss's gradient with
   respect to each embedding (and to the loss's own parameters, e.g. a learned temperature);
3. when those embedding gradients arrive (a hook on each leaf), runs each mini-batch through its tower again,
   with the **same** random state and autocast setting, and back-propagates the cached gradient slice into the
   tower: ``d loss / d theta = sum over rows of (d loss / d e_row) (d e_row / d theta)``.

So the loss and every gradient equal the uncached loss's (up to float summation order), while the towers' peak
activation memory is that of one mini-batch. The price is a second forward pass.

Example:
    >>> from pairsim.heads import HEADS
    >>> from pairsim.losses.infonce import InfoNCELoss, InfoNCEConfig
    >>> loss = InfoNCELoss(InfoNCEConfig(name="infonce"), head=HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
    >>> tower = torch.nn.Linear(3, 2)
    >>> batch = (torch.randn(8, 3), torch.randn(8, 3))
    >>> value = cached_step(loss, lambda side, x: tower(x), batch, mini_batch_size=2)
    >>> value.backward(); tower.weight.grad.shape
    torch.Size([2, 3])
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import get_device_states, set_device_states

Embed = Callable[[str, Any], torch.Tensor]


class RandomState:
    """The CPU (and accelerator) random state when made; :meth:`replay` restores it inside a forked RNG, so a
    second forward pass draws the same dropout masks as the first and the caller's RNG is left as it was."""

    def __init__(self, inputs: Any) -> None:
        self.cpu = torch.get_rng_state()
        self.devices, self.states = get_device_states(*_tensors(inputs))

    def replay(self) -> Any:
        """A context manager running its body with the recorded random state."""
        return _Replay(self)


class _Replay:
    def __init__(self, state: RandomState) -> None:
        self.state = state

    def __enter__(self) -> None:
        self.fork = torch.random.fork_rng(devices=self.state.devices, enabled=True)
        self.fork.__enter__()
        torch.set_rng_state(self.state.cpu)
        set_device_states(self.state.devices, self.state.states)

    def __exit__(self, *exc: Any) -> None:
        self.fork.__exit__(*exc)


def _tensors(inputs: Any) -> list[torch.Tensor]:
    if isinstance(inputs, torch.Tensor):
        return [inputs]
    if isinstance(inputs, dict):
        return [v for v in inputs.values() if isinstance(v, torch.Tensor)]
    return []


def rows_of(inputs: Any, part: slice, n: int) -> Any:
    """Rows ``part`` of a slot's batch: a tensor, or a dict of tensors whose first dimension is ``n`` rows."""
    if isinstance(inputs, torch.Tensor):
        return inputs[part]
    if isinstance(inputs, dict):
        return {
            k: v[part] if isinstance(v, torch.Tensor) and v.ndim and v.shape[0] == n else v for k, v in inputs.items()
        }
    raise TypeError(f"cannot split a batch of type {type(inputs).__name__} into mini-batches")


def _rows_in(inputs: Any) -> int:
    tensors = _tensors(inputs)
    if not tensors:
        raise TypeError(f"cannot split a batch of type {type(inputs).__name__} into mini-batches")
    return int(tensors[0].shape[0])


def _backward_slot(chunks: list[tuple[str, Any, slice, RandomState]], embed: Embed, autocast: tuple[str, Any, bool],
                   grad: torch.Tensor) -> None:  # fmt: skip
    """Re-run a slot's mini-batches with their random states and push the cached gradient slices into the tower."""
    device_type, dtype, enabled = autocast
    for side, part, rows, state in chunks:
        with torch.enable_grad(), state.replay(), torch.autocast(device_type, dtype=dtype, enabled=enabled):
            out = embed(side, part)  # (m, D)
        if out.requires_grad:
            out.backward(grad[rows].to(out.dtype))


def cached_step(
    loss: Callable[..., torch.Tensor], embed: Embed, batch: tuple[Any, ...], *, mini_batch_size: int,
    sides: tuple[str, ...] | None = None,
) -> torch.Tensor:  # fmt: skip
    """The loss of one batch, its towers run ``mini_batch_size`` rows at a time (see the module).

    Args:
        loss: The loss: ``loss(*slot_embeddings, *targets) -> scalar`` (a :class:`~pairsim.losses.base.Loss`).
        embed: ``embed(side, inputs) -> (m, D)``: a slot's preprocessed rows through its side's tower.
        batch: A batch per slot, then the target(s).
        mini_batch_size: Rows embedded at a time.
        sides: The side of each slot; None: ``loss.consumes.sides``.

    Returns:
        The scalar loss; its ``backward()`` fills the towers' and the loss's gradients. Without gradients
        (evaluation) it is the plain loss.
    """
    sides = tuple(sides if sides is not None else loss.consumes.sides)  # type: ignore[attr-defined]
    n = len(sides)
    if not torch.is_grad_enabled():
        return loss(*[embed(s, x) for s, x in zip(sides, batch[:n], strict=True)], *batch[n:])
    reps, slots = [], []
    with torch.no_grad():
        for side, inputs in zip(sides, batch[:n], strict=True):
            total = _rows_in(inputs)
            chunks, parts = [], []
            for start in range(0, total, mini_batch_size):
                rows = slice(start, min(start + mini_batch_size, total))
                part = rows_of(inputs, rows, total)
                state = RandomState(part)
                parts.append(embed(side, part))  # (m, D), no graph
                chunks.append((side, part, rows, state))
            reps.append(torch.cat(parts).detach().requires_grad_(True))  # (B, D) leaf
            slots.append(chunks)
    device_type = reps[0].device.type
    autocast = (device_type, torch.get_autocast_dtype(device_type), torch.is_autocast_enabled(device_type))
    value = loss(*reps, *batch[n:])
    for rep, chunks in zip(reps, slots, strict=True):
        rep.register_hook(functools.partial(_backward_slot, chunks, embed, autocast))
    return value
