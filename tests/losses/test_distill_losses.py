"""The score losses a cross-encoder and distillation train with (mse, listwise, margin_mse), by hand."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pairsim import HEADS, LOSSES

T = torch.tensor


def _loss(name: str, head: str = "cosine", **fields: float):
    h = HEADS.get(head)(HEADS.get(head).Config(name=head))
    return LOSSES.get(name)(LOSSES.get(name).Config(name=name, **fields), head=h)


def test_mse_on_scores_equals_hand_computation() -> None:
    a = T([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    b = T([[1.0, 0.0], [0.0, 1.0], [4.0, 3.0]])  # cosines 1, 0, 24/25
    gold = T([5.0, 2.5, 4.0])  # / 5 -> 1, 0.5, 0.8
    expected = ((1 - 1) ** 2 + (0 - 0.5) ** 2 + (0.96 - 0.8) ** 2) / 3
    assert math.isclose(float(_loss("mse", target_scale=5.0)(a, b, gold)), expected, rel_tol=1e-6)


def test_mse_with_a_distance_head_regresses_distances() -> None:
    a, b = T([[0.0, 0.0]]), T([[3.0, 4.0]])  # euclidean distance 5
    assert math.isclose(float(_loss("mse", head="euclidean")(a, b, T([2.0]))), 9.0, rel_tol=1e-6)


def test_margin_mse_equals_hand_computation() -> None:
    q = T([[1.0, 0.0], [0.0, 1.0]])
    p = T([[1.0, 1.0], [0.0, 1.0]])  # cos(q, p) = 1/sqrt(2), 1
    n = T([[0.0, 1.0], [1.0, 0.0]])  # cos(q, n) = 0, 0
    teacher = T([0.5, 0.2])  # the teacher's t(q, p) - t(q, n)
    expected = ((1 / math.sqrt(2) - 0.5) ** 2 + (1.0 - 0.2) ** 2) / 2
    assert math.isclose(float(_loss("margin_mse")(q, p, n, teacher)), expected, rel_tol=1e-6)


def test_margin_mse_takes_the_heads_direction() -> None:
    q, p, n = T([[0.0, 0.0]]), T([[1.0, 0.0]]), T([[3.0, 0.0]])  # distances 1 and 3: the positive is 2 closer
    assert math.isclose(float(_loss("margin_mse", head="euclidean")(q, p, n, T([2.0]))), 0.0, abs_tol=1e-7)


def test_listwise_equals_listnet_by_hand() -> None:
    a = T([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = T([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])  # cosines 1, 0.6, 0
    gold = T([4.0, 2.0, 1.0])
    target = F.softmax(gold * 0.5, dim=0)
    expected = -(target * F.log_softmax(T([1.0, 0.6, 0.0]) * 3.0, dim=0)).sum()
    ours = _loss("listwise", scale=3.0, target_scale=0.5)(a, b, gold)
    torch.testing.assert_close(ours, expected)
