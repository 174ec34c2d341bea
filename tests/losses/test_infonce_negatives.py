"""infonce with explicit negatives, false-negative masking (keys, guide) and the GradCache variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from pairsim import HEADS, LOSSES
from pairsim.losses.base import Loss
from pairsim.losses.grad_cache import cached_step
from pairsim.losses.guide import Guide

T = torch.tensor


def loss_of(name: str = "infonce", head: str = "cosine", **fields: Any) -> Loss:
    h = HEADS.get(head)(HEADS.get(head).Config(name=head))
    cls = LOSSES.get(name)
    return cls(cls.Config(name=name, temperature=1.0, learn_temperature=False, **fields), head=h)


def embeddings(b: int, d: int = 5, *, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)


def keys_of(key_ids: list[list[int]]) -> torch.Tensor:
    """``(B, S, 2)`` keys target: the given key ids, item index = row number (side a) or a running number (b)."""
    k = T(key_ids)
    items = torch.arange(k.numel()).reshape(k.shape)
    return torch.stack([k, items], dim=2)


def manual(a: torch.Tensor, candidates: torch.Tensor, masked: Sequence[tuple[int, int]] = ()) -> torch.Tensor:
    """Cross-entropy of each anchor over the cosines to ``candidates`` (target: the anchor's own row), with
    ``masked`` (anchor, candidate) logits removed."""
    logits = F.normalize(a, dim=1) @ F.normalize(candidates, dim=1).T  # (B, C)
    for i, c in masked:
        logits[i, c] = float("-inf")
    return F.cross_entropy(logits, torch.arange(len(a)))


def test_consumes_negative_slots_and_keys() -> None:
    c = loss_of(negatives=2).consumes
    assert (c.sides, c.target, c.sampler) == (("a", "b", "b", "b"), "keys", "hard_negatives")
    c = loss_of().consumes
    assert (c.sides, c.target, c.sampler) == (("a", "b"), "none", "aligned")


def test_explicit_negatives_join_the_candidates() -> None:
    a, b, n1, n2 = embeddings(3, seed=1), embeddings(3, seed=2), embeddings(3, seed=3), embeddings(3, seed=4)
    loss = loss_of(negatives=2, symmetric=False)
    expected = manual(a, torch.cat([b, n1, n2]))  # candidates: every positive, then negative column 1, then 2
    torch.testing.assert_close(loss(a, b, n1, n2), expected)
    # distinct keys mask nothing; symmetric adds positive -> anchors (negatives take no part there)
    keys = keys_of([[0, 0, 3, 6], [1, 1, 4, 7], [2, 2, 5, 8]])
    torch.testing.assert_close(loss(a, b, n1, n2, keys), expected)
    both = loss_of(negatives=2)(a, b, n1, n2, keys)
    torch.testing.assert_close(both, (expected + manual(b, a)) / 2)


def test_a_negative_with_the_rows_key_is_absent_from_the_loss() -> None:
    """One row, two negatives: the first shares the row's key (a paraphrase of the positive). The loss equals the
    loss with only the second negative, and the masked negative gets no gradient."""
    a, b, n1, n2 = embeddings(1, seed=1), embeddings(1, seed=2), embeddings(1, seed=3), embeddings(1, seed=4)
    value = loss_of(negatives=2)(a, b, n1, n2, keys_of([[0, 0, 0, 1]]))
    without = loss_of(negatives=1)(a, b, n2, keys_of([[0, 0, 1]]))
    torch.testing.assert_close(value, without)
    torch.testing.assert_close(value, (manual(a, torch.cat([b, n2])) + manual(b, a)) / 2)
    value.backward()
    assert torch.equal(n1.grad, torch.zeros_like(n1)) and n2.grad.abs().sum() > 0
    # with mask_keys off, the same negative counts
    kept = loss_of(negatives=2, mask_keys=False)(a, b, n1, n2, keys_of([[0, 0, 0, 1]]))
    assert not torch.allclose(kept, value)


def test_rows_sharing_a_key_are_never_each_others_negatives() -> None:
    """Rows 0 and 1 share a key; row 0's explicit negative is row 2's positive (same key): all masked, both ways."""
    a, b, n1 = embeddings(3, seed=5), embeddings(3, seed=6), embeddings(3, seed=7)
    keys = keys_of([[0, 0, 2], [0, 0, 5], [2, 2, 6]])
    value = loss_of(negatives=1)(a, b, n1, keys)
    # candidates: b0 b1 b2 | n1_0 n1_1 n1_2 (keys 0 0 2 | 2 5 6)
    ab = manual(a, torch.cat([b, n1]), masked=[(0, 1), (1, 0), (2, 3)])
    ba = manual(b, a, masked=[(0, 1), (1, 0)])
    torch.testing.assert_close(value, (ab + ba) / 2)


def test_guide_drops_candidates_scored_near_the_positive() -> None:
    """The guide scores anchor 0 against candidate b1 above its positive minus the margin: b1 is dropped for it."""
    a, b, n1 = embeddings(2, seed=8), embeddings(2, seed=9), embeddings(2, seed=10)
    guide_a = T([[1.0, 0.0], [0.0, 1.0]])  # guide embeddings of side a's items 0, 1
    # side b's items: positives 0, 1 then negatives 2, 3; for anchor 0: positive 0.8, b1 0.79 (dropped at
    # margin 0.05), negative 2 0.6 (kept); for anchor 1: positive 1.0, everything else <= 0.6
    guide_b = T([[0.8, 0.6], [0.79, 1.0], [0.6, 0.0], [0.0, 0.0]])
    loss = loss_of(negatives=1, symmetric=False, guide_margin=0.05)
    loss.guide = Guide({"a": guide_a, "b": guide_b}, matrix=lambda x, y: x @ y.T)
    keys = T([[[0, 0], [0, 0], [10, 2]], [[1, 1], [1, 1], [11, 3]]])  # (B, S, 2): key ids, item indices
    value = loss(a, b, n1, keys)
    torch.testing.assert_close(value, manual(a, torch.cat([b, n1]), masked=[(0, 1)]))
    loss.config.guide_margin = 0.0  # 0.79 < 0.8: now kept
    torch.testing.assert_close(loss(a, b, n1, keys), manual(a, torch.cat([b, n1])))


def test_guide_from_a_sentence_transformers_directory(tmp_path: Any) -> None:
    from pathlib import Path

    path = Path("/work/shared/models/all-MiniLM-L6-v2")
    if not (path / "modules.json").is_file():
        pytest.skip("no local MiniLM")
    guide = Guide.from_model(path, {"a": ["a cat sits"], "b": ["a cat is sitting", "stock prices fell"]})
    s = guide.scores("a", T([0]), "b", T([0, 1]))
    assert s.shape == (1, 2) and s[0, 0] > s[0, 1]


# -- GradCache ----------------------------------------------------------------------------------------------------
class Tower(torch.nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Dropout(dropout), torch.nn.Tanh(),
                                       torch.nn.Linear(16, 5))  # fmt: skip

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["x"])  # (B, 5)


def _batch(b: int, n: int) -> tuple[Any, ...]:
    g = torch.Generator().manual_seed(3)
    slots = tuple({"x": torch.randn(b, 6, generator=g)} for _ in range(2 + n))
    key_ids = [[r, r, *[100 + r * n + k for k in range(n)]] for r in range(b)]
    if n:
        key_ids[1][2] = 0  # row 1's first negative has row 0's key: masked for anchor 0, a negative for the others
    return (*slots, keys_of(key_ids)) if n else slots


def _grads(tower: Tower, loss: Loss) -> list[torch.Tensor]:
    return [p.grad.clone() for p in (*tower.parameters(), *loss.parameters())]


@pytest.mark.parametrize(("n", "mini"), [(0, 3), (2, 4), (2, 1)])
def test_cached_equals_uncached(n: int, mini: int) -> None:
    batch = _batch(10, n)
    values, grads = [], []
    for name, fields in (("infonce", {}), ("cached_infonce", {"mini_batch_size": mini})):
        tower = Tower()
        cls = LOSSES.get(name)
        head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        loss = cls(cls.Config(name=name, negatives=n, **fields), head=head)  # learned temperature: a loss parameter
        if n == 0:  # aligned rows take no keys target
            batch = batch[:2]
        value = loss.step(lambda side, x, tower=tower: tower(x), batch)
        value.backward()
        values.append(value.detach())
        grads.append(_grads(tower, loss))
    torch.testing.assert_close(values[1], values[0], atol=1e-5, rtol=1e-5)
    assert len(grads[0]) == len(grads[1]) == 5  # 4 tower tensors and the temperature
    for cached, plain in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(cached, plain, atol=1e-5, rtol=1e-5)


def test_cached_replays_dropout() -> None:
    """With dropout, the cached gradients equal those of the same mini-batches embedded with a graph from the same
    random state: the second pass replays each mini-batch's dropout masks (it would differ without the replay)."""
    batch = _batch(8, 0)
    loss = loss_of("infonce")
    tower = Tower(dropout=0.5)
    torch.manual_seed(42)
    value = cached_step(loss, lambda side, x: tower(x), batch, mini_batch_size=3)
    value.backward()
    cached = _grads(tower, loss)

    tower.zero_grad()
    torch.manual_seed(42)
    reps = [torch.cat([tower({"x": x["x"][s : s + 3]}) for s in range(0, 8, 3)]) for x in batch]
    reference = loss(*reps)
    reference.backward()
    torch.testing.assert_close(value.detach(), reference.detach(), atol=1e-6, rtol=1e-6)
    for c, r in zip(cached, _grads(tower, loss), strict=True):
        torch.testing.assert_close(c, r, atol=1e-6, rtol=1e-6)
    tower.zero_grad()  # without the replay the second pass would draw new masks: different gradients
    torch.manual_seed(7)
    other = loss(*[torch.cat([tower({"x": x["x"][s : s + 3]}) for s in range(0, 8, 3)]) for x in batch])
    other.backward()
    assert not torch.allclose(_grads(tower, loss)[0], cached[0])


def test_cached_without_gradients_is_the_plain_loss() -> None:
    batch = _batch(6, 0)
    tower = Tower()
    loss = loss_of("cached_infonce", mini_batch_size=2)
    with torch.no_grad():
        value = loss.step(lambda side, x: tower(x), batch)
        plain = loss_of("infonce")(*[tower(x) for x in batch])
    torch.testing.assert_close(value, plain)
