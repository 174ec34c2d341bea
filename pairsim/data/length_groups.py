"""Length-grouped training batches: rows of similar token length share a batch, so text towers pad less.

A random batch of 32 STS-B pairs pads every text to the batch's longest one: 2.5x the real tokens for
all-MiniLM-L6-v2's tokenizer. Grouping rows by length inside *megabatches* (``megabatch`` batches drawn at
random, sorted by length, cut into batches, then the batch order shuffled) brings that to about 1.1x while each
batch still mixes rows from a random slice of the epoch. The longest batch goes first, so a batch too large for
the device fails at once, not hours later.

Everything here is a pure function of the row lengths and the generator, so the batches of ``(seed, epoch)``
are the same after a restart (``pairsim train --resume`` skips batches of the same list).

Samplers that support it take ``group_by_length`` / ``megabatch`` options
(:class:`~pairsim.data.samplers.GroupedSamplerConfig`); the lengths come from the towers
(:meth:`pairsim.towers.TextTower.token_lengths`, tokenised once per text and cached) through
:attr:`pairsim.data.samplers.Draw.lengths`.

Example:
    >>> import numpy as np
    >>> lengths = np.array([5, 30, 6, 31, 7, 29, 4, 32])
    >>> batches = grouped_batches(lengths, batch_size=2, megabatch=4, gen=np.random.default_rng(0))
    >>> sorted(sorted(lengths[b].tolist()) for b in batches)
    [[4, 5], [6, 7], [29, 30], [31, 32]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Lengths = Callable[[str, np.ndarray], np.ndarray]  # (side, item indices (N,)) -> token lengths (N,)


def row_lengths(index: np.ndarray, sides: Sequence[str], lengths: Lengths) -> np.ndarray:
    """The length of each row: its longest item over all slots.

    Args:
        index: ``(N, S)`` item index per slot.
        sides: The side of each of the ``S`` slots.
        lengths: ``lengths(side, items)`` -> the token length of each item of that side.

    Returns:
        ``(N,)`` row lengths.
    """
    per_slot = [np.asarray(lengths(side, index[:, s])) for s, side in enumerate(sides)]  # S x (N,)
    return np.max(np.stack(per_slot, axis=1), axis=1)  # (N, S) -> (N,)


def sorted_megabatches(order: np.ndarray, lengths: np.ndarray, span: int) -> np.ndarray:
    """``order`` cut into consecutive runs of ``span`` rows, each run sorted by length, longest first (stable,
    so ties keep their random order).

    Args:
        order: ``(N,)`` row numbers in a random order.
        lengths: Length of every row number.
        span: Rows per megabatch.

    Returns:
        ``(N,)`` the same row numbers, length-sorted within each run.
    """
    parts = [order[i : i + span] for i in range(0, len(order), span)]
    return np.concatenate([p[np.argsort(-lengths[p], kind="stable")] for p in parts]) if parts else order


def shuffled_batches(batches: list[np.ndarray], lengths: np.ndarray, gen: np.random.Generator) -> list[np.ndarray]:
    """The batches in a random order, except that the one holding the longest row comes first.

    Args:
        batches: Row numbers per batch.
        lengths: Length of every row number.
        gen: The generator.
    """
    if not batches:
        return batches
    out = [batches[i] for i in gen.permutation(len(batches))]
    longest = int(np.argmax([lengths[b].max() for b in out]))  # first on ties: deterministic
    out[0], out[longest] = out[longest], out[0]
    return out


def grouped_batches(
    lengths: np.ndarray, *, batch_size: int, megabatch: int, gen: np.random.Generator, drop_last: bool = True
) -> list[np.ndarray]:
    """Row numbers ``0..N-1`` in batches of similar length, every row at most once.

    Args:
        lengths: ``(N,)`` length of each row.
        batch_size: Rows per batch.
        megabatch: Batches sorted together (1: sort within each random batch only, i.e. no grouping).
        gen: The generator (one permutation for the rows, one for the batch order).
        drop_last: Drop batches smaller than ``batch_size`` (at most one, the tail of the last megabatch).

    Returns:
        The batches, shuffled, the longest first.
    """
    order = sorted_megabatches(gen.permutation(len(lengths)), lengths, batch_size * megabatch)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    return shuffled_batches(batches, lengths, gen)
