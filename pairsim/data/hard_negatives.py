"""The ``hard_negatives`` sampler: aligned batches of similar pairs, each row followed by its explicit negatives.

Rows are ``(anchor, positive, negative_1, ..., negative_n)``: the anchor from side a, the positive and the
negatives from side b (a :class:`~pairsim.data.types.PairTable` whose ``negatives`` hold a mined table's
``negative_1 .. negative_n`` columns; see :meth:`~pairsim.data.types.PairTable.side_b_items` for the indices).
Batches are those of the ``aligned`` sampler (no key twice in a batch). The target is ``"keys"``: per slot the
id of its item's key and the item's index in its side, so a loss can drop false negatives: any candidate that
shares the row's key (a negative that is really another phrasing of the positive, or the positive of another
row with the same key), and, with a guide model, candidates the guide scores too close to the positive.

A negative's key is the key of the row whose anchor or positive it is (the same text), else the item itself.

Example:
    >>> import numpy as np
    >>> from pairsim.data.types import PairTable
    >>> t = PairTable(a=["q1", "q2"], b=["p1", "p2"], labels=[1.0, 1.0], negatives=[["p2"], ["n2"]])
    >>> draw = Draw(options=HardNegativesConfig(), batch_size=2, train=False, target="keys", sides=("a", "b", "b"))
    >>> rows = hard_negatives(t, np.random.default_rng(0), 0, draw)[0]
    >>> rows.index.tolist()  # row 0's negative is item 2 of side b ("p2"), row 1's item 3 ("n2")
    [[0, 0, 2], [1, 1, 3]]
    >>> bool(rows.target[0, 2, 0] == rows.target[1, 1, 0])  # row 0's negative "p2" has row 1's key
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pairsim.data.samplers import AlignedConfig, Draw, GroupedSamplerConfig, Rows, aligned, register
from pairsim.data.split import Stream
from pairsim.data.types import PairTable
from pairsim.errors import ConfigError, DataError


@dataclasses.dataclass(kw_only=True)
class HardNegativesConfig(GroupedSamplerConfig):
    name: str = "hard_negatives"
    drop_last: bool = True  # training: drop batches smaller than the batch size (in-batch negatives want full ones)


def row_keys(split: PairTable) -> tuple[list[str], dict[str, str]]:
    """Each row's key (side b's key: a ``key`` column, else the positive itself) and ``{item text: its row's key}``
    for the anchors and positives that are texts or paths."""
    keys = [str(k) for k in split.keys("b")]
    of_item: dict[str, str] = {}
    for side in (split.a, split.b):
        for r, item in enumerate(side):
            if isinstance(item, str):
                of_item.setdefault(item, keys[r])
    return keys, of_item


def _key_ids(split: PairTable) -> np.ndarray:
    """``(N, 1 + n_negatives)`` key ids: each row's key, then each of its negatives' keys."""
    keys, of_item = row_keys(split)
    names = [[k] for k in keys]
    for r, negatives in enumerate(split.negatives or []):
        for k, item in enumerate(negatives):
            names[r].append(of_item.get(item, f"\0{item}") if isinstance(item, str) else f"\0{r}:{k}")
    ids: dict[str, int] = {}
    return np.asarray([[ids.setdefault(x, len(ids)) for x in row] for row in names], dtype=np.int64)


@register(
    "hard_negatives", HardNegativesConfig, sides=None, targets=("keys",), stream=Stream.ALIGNED, distinct_keys=True
)
def hard_negatives(split: PairTable, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Aligned batches of ``(anchor, positive, negative_1 .. negative_n)`` rows with a ``keys`` target; ``n``
    is the number of side-b slots after the positive in the loss's rows (the table's first ``n`` negatives)."""
    if not isinstance(split, PairTable):
        raise ConfigError("sampler 'hard_negatives' needs pair data (a table of anchors, positives and negatives)")
    sides = tuple(draw.sides)
    if sides[:2] != ("a", "b") or any(s != "b" for s in sides[2:]):
        raise ConfigError(f"sampler 'hard_negatives' makes rows (a, b, b, ...), not {sides}")
    n = len(sides) - 2
    if n > split.n_negatives:
        raise DataError(
            f"{draw.where}: the loss wants {n} negatives per row but the data has {split.n_negatives} "
            "(negative_1 .. negative_n columns)"
        )
    opt = draw.options  # batches by anchor and positive length when grouped (negatives are not counted)
    inner = dataclasses.replace(
        draw,
        options=AlignedConfig(drop_last=opt.drop_last, group_by_length=opt.group_by_length, megabatch=opt.megabatch),
    )
    batches = aligned(split, gen, epoch, inner)
    key_ids = _key_ids(split)  # (N, 1 + n_table)
    width = split.n_negatives
    out = []
    for batch in batches:
        r = batch.index[:, 0]  # (B,) table rows
        negs = len(split.b) + r[:, None] * width + np.arange(n)[None, :]  # (B, n) side-b item indices
        index = np.concatenate([batch.index, negs], axis=1)  # (B, 2 + n)
        keys = np.concatenate([key_ids[r][:, :1], key_ids[r][:, : 1 + n]], axis=1)  # (B, 2 + n): anchor = row key
        out.append(Rows(index, np.stack([keys, index], axis=2)))  # (B, 2 + n, 2)
    return out
