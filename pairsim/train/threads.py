"""How many CPU threads PyTorch may use: ``train.speed.threads`` / ``--threads``, without environment variables.

PyTorch's default (one intra-op thread per core) is fastest on an idle machine with many cores, but on a small
machine shared with other work every op waits for its slowest thread, and steps get several times slower
than with one thread (benchmarks/RESULTS.md, "Threads"). ``threads: 0`` (the default) therefore picks
:func:`default_threads`: half the cores, at most 4, at least 1.

Example:
    >>> with use_threads(1):
    ...     torch.get_num_threads()
    1
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

MAX_DEFAULT = 4  # small models gain little past 4 intra-op threads; more only contend with other work


def cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int:
    """``threads: 0``: half the usable cores (leaving room for data loading and other work), 1 to 4.

    Example:
        >>> 1 <= default_threads() <= MAX_DEFAULT
        True
    """
    return max(1, min(MAX_DEFAULT, cores() // 2))


def resolve_threads(threads: int) -> int:
    """The thread count a setting means: ``threads`` itself, or :func:`default_threads` for 0."""
    return threads if threads > 0 else default_threads()


@contextlib.contextmanager
def use_threads(threads: int) -> Iterator[int]:
    """Run the body with ``torch.set_num_threads(resolve_threads(threads))``; restore the old count after.

    Args:
        threads: Intra-op threads, or 0 for :func:`default_threads`.

    Yields:
        The thread count in use.
    """
    before = torch.get_num_threads()
    n = resolve_threads(threads)
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
