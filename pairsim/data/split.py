"""Seeded, leak-free splitting: by class, subject, image or connected text, never by pair.

All randomness comes from :func:`rng`, a numpy PCG64 generator seeded by a tuple of integers, so a seed
gives the same split on every machine and in every worker process.

Example:
    >>> partition(["s1", "s2", "s3", "s4", "s5"], val=1, test=1, seed=0)[0]
    ['s1', 's2', 's4']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from enum import IntEnum
from typing import TypeVar

import numpy as np

from pairsim.errors import DataError

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("pairsim.data")
WARN_FILTERED = 0.2  # a filter removing more than this share of a split logs a warning (past max_filtered: stop)


class Stream(IntEnum):
    """Every random stream's id, in one place: ``rng(seed, epoch, Stream.PAIRS)`` never collides with another use."""

    PAIRS = 1  # pairs drawn from labelled items / mismatched table rows
    TRIPLETS = 2  # (anchor, positive, negative) of labelled items
    SHUFFLE = 3  # batch order of row-wise samplers
    PK = 4  # P classes x K items batches
    ALIGNED = 5  # aligned batches with no key twice
    FIT_DRAW = 6  # training items a fitter draws (pairsim/train/fitters: the S-norm reference set)
    EPISODES = 7  # N-way k-shot episodes
    AUGMENT = 8  # per-item training augmentation inside the image towers
    VIEWS = 9  # augmented views encoded once (the closed-form fit's train.fit.views, train.speed.cache_views)
    EVAL_VAL = 11  # fixed verification pairs / episodes of the val split
    EVAL_TEST = 12  # ... of the test split
    EVAL_OTHER = 13  # ... of any other split


def rng(*seed: int) -> np.random.Generator:
    """A numpy generator for the stream named by the integers ``seed`` (e.g. ``(seed, epoch)``)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(s) for s in seed])))


def fraction_counts(n: int, val: float, test: float, *, where: str) -> tuple[int, int]:
    """Numbers of val and test keys for fractions ``val`` and ``test`` of ``n`` keys (at least 1 each if > 0).

    Raises:
        DataError: The fractions leave no training keys.
    """
    if not (0.0 <= val < 1.0 and 0.0 <= test < 1.0):
        raise DataError(f"{where}: val and test fractions must lie in [0, 1), got {val} and {test}")
    n_val = max(1, round(n * val)) if val > 0 else 0
    n_test = max(1, round(n * test)) if test > 0 else 0
    if n_val + n_test >= n:
        raise DataError(f"{where}: {n} keys cannot give {n_val} val + {n_test} test keys and leave any to train")
    return n_val, n_test


def partition(keys: Sequence[K], *, val: int, test: int, seed: int) -> tuple[list[K], list[K], list[K]]:
    """Split the distinct ``keys`` into train, val and test at random.

    Args:
        keys: Keys to split (duplicates count once); sorted first so input order does not matter.
        val: Number of val keys.
        test: Number of test keys.
        seed: Split seed.

    Returns:
        ``(train, val, test)``, each sorted.
    """
    unique = sorted(set(keys))  # type: ignore[type-var]
    if val + test >= len(unique):
        raise DataError(f"cannot hold out {val} val + {test} test of {len(unique)} keys and keep any to train")
    order = rng(seed).permutation(len(unique))
    chosen = [unique[i] for i in order]
    return sorted(chosen[val + test :]), sorted(chosen[:val]), sorted(chosen[val : val + test])


def components(a_keys: Sequence[Hashable], b_keys: Sequence[Hashable]) -> list[int]:
    """Connected components of the graph whose edges are the pairs ``(a_keys[i], b_keys[i])``.

    Pairs sharing an item (a sentence, a question) land in one component, so splitting by component
    keeps every item in one split.

    Returns:
        For each pair, its component id (0, 1, ... in order of first appearance).
    """
    parent: dict[Hashable, Hashable] = {}

    def find(x: Hashable) -> Hashable:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in zip(a_keys, b_keys, strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    ids: dict[Hashable, int] = {}
    return [ids.setdefault(find(a), len(ids)) for a in a_keys]


def split_by_component(
    component: Sequence[int], *, val: float, test: float, seed: int, where: str
) -> tuple[list[int], list[int], list[int]]:
    """Split pairs into train/val/test so that no component (hence no shared item) crosses splits.

    Args:
        component: Component id of each pair (from :func:`components`).
        val: Fraction of pairs for val (reached approximately, whole components at a time).
        test: Fraction of pairs for test.
        seed: Split seed.
        where: Dataset name for error messages.

    Returns:
        Pair indices ``(train, val, test)``, each ascending.
    """
    n = len(component)
    n_val, n_test = fraction_counts(n, val, test, where=where)
    sizes = np.bincount(np.asarray(component, dtype=np.int64))
    order = rng(seed).permutation(len(sizes))
    assign = np.zeros(len(sizes), dtype=np.int64)  # 0 train, 1 val, 2 test
    filled = [0, 0, 0]
    for c in order:
        if filled[1] < n_val:
            target = 1
        elif filled[2] < n_test:
            target = 2
        else:
            break
        assign[c] = target
        filled[target] += int(sizes[c])
    which = assign[np.asarray(component, dtype=np.int64)]
    out = tuple(np.flatnonzero(which == k).tolist() for k in range(3))
    if not out[0]:
        raise DataError(f"{where}: the pairs form too few independent groups to leave any for training")
    return out  # type: ignore[return-value]


def stratified_items(
    labels: Sequence[int], *, val: float, test: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """Split item indices so each class is spread over train/val/test in the given fractions.

    Each image lands in exactly one split (classes are shared). Used when classes must stay the same,
    e.g. digits with ``split_by: item``.

    Returns:
        Item indices ``(train, val, test)``, each ascending.
    """
    gen = rng(seed)
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(i)
    for _, idx in sorted(by_class.items()):
        perm = [idx[j] for j in gen.permutation(len(idx))]
        n_val = math.floor(len(idx) * val + 0.5)
        n_test = math.floor(len(idx) * test + 0.5)
        out[1].extend(perm[:n_val])
        out[2].extend(perm[n_val : n_val + n_test])
        out[0].extend(perm[n_val + n_test :])
    return sorted(out[0]), sorted(out[1]), sorted(out[2])


def check_filter(*, where: str, setting: str, split: str, before: int, after: int, max_share: float) -> None:
    """Log what a filter removed from a split; refuse when it removed more than ``max_share`` of it.

    A filter that silently empties a split (e.g. ``drop_test_overlap`` on data whose sentences recur in the
    test file) trains on a sliver of the data; stopping with the numbers and the setting is kinder than a
    later "no full batch" or a poor model.

    Args:
        where: Dataset name for messages (``"mrpc"``, ``"pair_table data/pairs.csv"``).
        setting: The data setting that filtered (``"drop_test_overlap"``), named in the message.
        split: Which split was filtered (``"train"``).
        before: Rows before the filter.
        after: Rows kept.
        max_share: Largest share (0-1) the filter may remove (``data.max_filtered``); past
            :data:`WARN_FILTERED` the log line is a warning.

    Raises:
        DataError: More than ``max_share`` of the split was removed; the message names both settings.

    Example:
        >>> check_filter(where="mrpc", setting="drop_test_overlap", split="train", before=100, after=90,
        ...              max_share=0.2)
    """
    removed = before - after
    share = removed / before if before else 0.0
    level = logging.WARNING if share > WARN_FILTERED else logging.INFO
    log.log(level, "%s: %s removed %d of %d %s pairs (%.1f%%)", where, setting, removed, before, split, 100 * share)
    if removed and share > max_share:
        raise DataError(
            f"{where}: {setting} removed {removed} of {before} {split} pairs ({100 * share:.0f}%), more than "
            f"data.max_filtered={max_share:g}; set data.{setting}=false to keep them, or raise data.max_filtered "
            "(1 accepts any share)"
        )
