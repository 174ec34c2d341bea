"""The ``margins`` sampler: ``(query, positive, negative)`` rows with a teacher's margin as the target (MarginMSE).

A table with ``anchor, positive, negative_1`` and a margin column (``t(q, p) - t(q, n)`` of a teacher, e.g. a
cross-encoder; :func:`pairsim.train.distill.write_margins` writes one from a mined table) is read by the
``negatives_table`` source with ``margin: <column>``: the training split is a
:class:`~pairsim.data.types.PairTable` whose ``negatives`` hold ``negative_1`` and whose ``scores`` hold the
margins. Each row becomes ``(anchor, positive, negative_1)`` with its margin as a graded target; rows are shuffled
each epoch and cut into batches (MarginMSE compares a row with itself only, so no in-batch care is needed).

Example:
    >>> import numpy as np
    >>> from pairsim.data.types import PairTable
    >>> t = PairTable(a=["q1", "q2"], b=["p1", "p2"], labels=[1.0, 1.0], scores=[0.7, 0.2], negatives=[["n1"], ["n2"]])
    >>> rows = margins(t, np.random.default_rng(0), 0, Draw(MarginsConfig(), 2, train=False, target="graded"))[0]
    >>> rows.index.tolist(), rows.target.tolist()  # row 0's negative is item 2 of side b ("n1")
    ([[0, 0, 2], [1, 1, 3]], [0.699999988079071, 0.20000000298023224])
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pairsim.data.samplers import Draw, Rows, SamplerConfig, chunk, register
from pairsim.data.split import Stream
from pairsim.data.types import PairTable
from pairsim.errors import ConfigError, DataError


@dataclasses.dataclass(kw_only=True)
class MarginsConfig(SamplerConfig):
    name: str = "margins"


@register("margins", MarginsConfig, sides=("a", "b", "b"), targets=("graded",), stream=Stream.TRIPLETS)
def margins(split: PairTable, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Every row once per epoch as ``(anchor, positive, negative_1)`` item indices, its margin as the target."""
    if not isinstance(split, PairTable):
        raise ConfigError("sampler 'margins' needs a table of anchors, positives, negatives and margins")
    if split.n_negatives < 1 or split.scores is None:
        raise DataError(
            f"{draw.where}: sampler 'margins' needs a negative_1 column and the teacher's margins (the "
            "negatives_table source with margin: <column>, e.g. what pairsim.train.distill.write_margins writes)"
        )
    rows = np.arange(len(split))  # (N,)
    negative = len(split.b) + rows * split.n_negatives  # (N,) side-b index of each row's negative_1
    index = np.stack([rows, rows, negative], axis=1)  # (N, 3)
    return chunk(index, np.asarray(split.scores, dtype=np.float32), draw, gen)
