"""Micro-batching: concurrent encode requests are merged into one model call.

Requests put their inputs on a queue and wait; one worker thread takes the first request, gathers
whatever else is queued or arrives within ``window_ms`` (up to ``max_items`` inputs), encodes each side's
inputs in one call and hands every request its rows. The model is only ever used by this thread. With
the default window of 0, requests that queue up while the model is busy form the next batch: on 2 CPU
cores this took ``pairsim serve`` from 20 to 59 requests/s (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import torch


class Batcher:
    """Merge concurrent ``encode(side, items)`` calls into batched model calls.

    Args:
        model: A PairModel or OnnxPairModel (``encode_a`` / ``encode_b``).
        window_ms: How long to wait for more requests after the first one.
        max_items: Inputs per merged call at most.

    Example:
        >>> batcher = Batcher(model)  # doctest: +SKIP
        >>> batcher.encode("a", ["how old are you"]).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, model: Any, *, window_ms: float = 0.0, max_items: int = 64) -> None:
        self.model = model
        self.window = window_ms / 1000
        self.max_items = max_items
        self.calls = 0  # model calls made (for tests and the load benchmark)
        self._queue: queue.Queue[tuple[str, Sequence[Any], Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pairsim-batcher", daemon=True)
        self._thread.start()

    def encode(self, side: str, items: Sequence[Any]) -> torch.Tensor:
        """``(N, D)`` embeddings of ``items`` on ``side`` ("a" or "b"); blocks until computed."""
        future: Future = Future()
        self._queue.put((side, list(items), future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            count = len(first[1])
            deadline = time.monotonic() + self.window
            while count < self.max_items:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)
                    break
                jobs.append(job)
                count += len(job[1])
            for side in ("a", "b"):
                mine = [j for j in jobs if j[0] == side]
                if mine:
                    self._encode(side, mine)

    def _encode(self, side: str, jobs: list[tuple[str, Sequence[Any], Future]]) -> None:
        items = [x for _, job_items, _ in jobs for x in job_items]
        try:
            encode = self.model.encode_a if side == "a" else self.model.encode_b
            embeddings = encode(items)  # (sum n, D)
            self.calls += 1
        except Exception as err:  # each request gets the error (e.g. an unreadable input in one of them)
            if len(jobs) > 1:  # find the culprit: encode each request alone
                for job in jobs:
                    self._encode(side, [job])
                return
            jobs[0][2].set_exception(err)
            return
        start = 0
        for _, job_items, future in jobs:
            future.set_result(embeddings[start : start + len(job_items)])
            start += len(job_items)
