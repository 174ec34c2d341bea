"""Heads: (B, D) x (B, D) -> (B,) scores, every head states its direction."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from pairsim import HEADS
from pairsim.heads.base import Head

# A config for every registered head; a head registered without a row here fails
# test_every_head_has_a_tiny_config.
TINY_HEAD_CONFIGS: dict[str, dict[str, Any]] = {
    "cosine": {"name": "cosine"},
    "euclidean": {"name": "euclidean"},
    "exp": {"name": "exp"},
    "weighted_l1": {"name": "weighted_l1", "dim": 8},
}
DIM = 8
# heads scoring two embeddings (a cross_encoder head reads token ids: tests/heads/test_cross_encoder.py)
EMBEDDING_HEADS = [n for n in HEADS.names() if HEADS.get(n).reads == "embeddings"]


def make_head(name: str, **overrides: Any) -> Head:
    cls = HEADS.get(name)
    return cls(cls.Config(**{**TINY_HEAD_CONFIGS[name], **overrides}))


def oriented_head(name: str, **overrides: Any) -> Head:
    """The head as built: every head's direction must hold from initialisation on (weighted_l1's weights are
    negative by construction)."""
    return make_head(name, **overrides)


def embeddings(seed: int = 0, n: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a``, a near copy of it and a far one: rows of ``far`` are much further from ``a`` than ``near``'s."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, DIM, generator=g)
    direction = F.normalize(torch.randn(n, DIM, generator=g), dim=-1)
    direction = F.normalize(direction - (direction * a).sum(-1, keepdim=True) * a / a.pow(2).sum(-1, keepdim=True))
    near = a + 0.1 * direction * a.norm(dim=-1, keepdim=True)  # orthogonal steps: cosine falls as well
    far = a + 2.0 * direction * a.norm(dim=-1, keepdim=True)
    return a, near, far


def test_every_head_has_a_tiny_config() -> None:
    assert sorted(TINY_HEAD_CONFIGS) == EMBEDDING_HEADS, "add a TINY_HEAD_CONFIGS row for each registered head"


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_shapes_and_matrix_matches_forward(name: str) -> None:
    head = make_head(name)
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, DIM, generator=g), torch.randn(3, DIM, generator=g)
    m = head.matrix(a, b)
    assert m.shape == (5, 3)
    scores = head(a[:3], b)
    assert scores.shape == (3,)
    torch.testing.assert_close(torch.diagonal(head.matrix(a[:3], b)), scores, rtol=1e-5, atol=1e-5)
    for i in range(5):  # every entry is the pairwise score
        torch.testing.assert_close(m[i], head(a[i].expand(3, -1), b), rtol=1e-5, atol=1e-5)
    assert head(a[:0], b[:0]).shape == (0,)


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_gradients_flow_through_forward_and_matrix(name: str) -> None:
    head = make_head(name, calibrated=True)
    g = torch.Generator().manual_seed(2)
    a = torch.randn(4, DIM, generator=g, requires_grad=True)
    b = torch.randn(4, DIM, generator=g, requires_grad=True)
    (head.logit(head(a, b)).sum() + head.matrix(a, b).sum()).backward()
    assert a.grad is not None and b.grad is not None
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    for pname, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_gradient_is_finite_for_identical_embeddings(name: str) -> None:
    head = make_head(name)
    a = torch.ones(3, DIM, requires_grad=True)
    b = torch.ones(3, DIM, requires_grad=True)
    (head(a, b).sum() + head.matrix(a, b).sum()).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_identical_embeddings_score_best(name: str) -> None:
    head = make_head(name)
    a, _, _ = embeddings()
    scores = head(a, a)
    if math.isfinite(head.best):
        torch.testing.assert_close(scores, torch.full_like(scores, head.best), atol=1e-5, rtol=0)
        assert not (head.margin(scores, head.best) > 1e-5).any()  # nothing scores better than best
    else:  # a learned weighting has no finite best
        assert head.best == float("inf") and head.higher_is_similar


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_direction_is_consistent(name: str) -> None:
    """With ``higher_is_similar``/``margin``: identical beats near beats far (the head as trained)."""
    head = oriented_head(name)
    for seed in range(5):
        a, near, far = embeddings(seed)
        same, close, distant = head(a, a), head(a, near), head(a, far)
        assert (head.margin(same, close) > 0).all()
        assert (head.margin(close, distant) > 0).all()
        assert (head.margin(distant, same) < 0).all()
        if head.higher_is_similar:
            assert (same > close).all() and (close > distant).all()
        else:
            assert (same < close).all() and (close < distant).all()


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_direction_holds_at_initialisation(name: str) -> None:
    for seed in range(10):
        torch.manual_seed(seed)
        head = make_head(name)
        a, _, far = embeddings(seed)
        assert (head.margin(head(a, a), head(a, far)) > 0).all(), f"seed {seed}"


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_margin_sign_and_value(name: str) -> None:
    head = make_head(name)
    hi, lo = torch.tensor([0.75]), torch.tensor([0.25])
    expected = 0.5 if head.higher_is_similar else -0.5
    torch.testing.assert_close(head.margin(hi, lo), torch.tensor([expected]))
    torch.testing.assert_close(head.margin(lo, hi), torch.tensor([-expected]))
    assert head.margin(0.75, 0.25) == pytest.approx(expected)  # plain floats too


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_is_similar_follows_the_direction(name: str) -> None:
    head = oriented_head(name)
    a, near, far = embeddings()
    with torch.no_grad():
        same, distant = head(a, near), head(a, far)
    threshold = float((same.mean() + distant.mean()) / 2)
    for s in same:
        assert head.margin(s, threshold) > 0
    assert head.is_similar(same, threshold).all()
    assert not head.is_similar(distant, threshold).any()
    # at the threshold itself a pair counts as similar
    assert head.is_similar(torch.tensor([threshold]), threshold).all()


def test_is_similar_concrete_values() -> None:
    cosine, euclid = make_head("cosine"), make_head("euclidean")
    scores = torch.tensor([0.9, 0.5, 0.1])
    assert cosine.is_similar(scores, 0.5).tolist() == [True, True, False]
    assert euclid.is_similar(scores, 0.5).tolist() == [False, True, True]


def test_concrete_scores() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [3.0, 4.0], [1.0, 1.0]])
    torch.testing.assert_close(make_head("cosine")(a[[0, 2]], b[[0, 2]]), torch.tensor([0.0, 2**-0.5]))
    torch.testing.assert_close(make_head("euclidean")(a, b), torch.tensor([2**0.5, 5.0, 1.0]))
    torch.testing.assert_close(make_head("exp")(a, b), torch.exp(-torch.tensor([2.0, 7.0, 1.0])))
    head = make_head("weighted_l1", dim=2)
    with torch.no_grad():  # w = -softplus(raw) = [-1, -2]
        head.raw_weight.copy_(torch.log(torch.expm1(torch.tensor([1.0, 2.0]))))
        head.offset.fill_(0.5)
    # w . |a - b| + c = -[1*1 + 2*1, 1*3 + 2*4, 0 + 2*1] + 0.5
    torch.testing.assert_close(head.weight, torch.tensor([-1.0, -2.0]))
    torch.testing.assert_close(head(a, b), torch.tensor([-2.5, -10.5, -1.5]))


def test_cosine_ignores_the_embedding_length() -> None:
    head = make_head("cosine")
    a, _, far = embeddings()
    torch.testing.assert_close(head(a, far), head(3 * a, 0.5 * far))
    torch.testing.assert_close(head.matrix(a, far), head.matrix(3 * a, 0.5 * far))


def test_weighted_l1_matrix_in_chunks_equals_whole() -> None:
    head = make_head("weighted_l1")
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(7, DIM, generator=g), torch.randn(4, DIM, generator=g)
    torch.testing.assert_close(head.matrix(a, b, chunk=2), head.matrix(a, b))


def test_weighted_l1_needs_a_dimension() -> None:
    with pytest.raises(ValueError, match="dim > 0"):
        make_head("weighted_l1", dim=0)


# -- probabilities ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_calibrated_probability_is_in_0_1_and_ordered(name: str) -> None:
    head = oriented_head(name, calibrated=True, init_scale=5.0)
    assert head.gives_probability
    assert {n for n, _ in head.named_parameters()} >= {"scale", "bias"}
    a, near, far = embeddings()
    p_same, p_near, p_far = (head.probability(head(a, x)) for x in (a, near, far))
    for p in (p_same, p_near, p_far):
        assert ((p > 0) & (p < 1)).all()
    assert (p_same >= p_near).all() and (p_near > p_far).all()


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_calibration_starts_at_one_half_for_the_neutral_score(name: str) -> None:
    head = make_head(name, calibrated=True, init_scale=4.0)
    neutral = torch.tensor([head.neutral])
    torch.testing.assert_close(head.probability(neutral), torch.tensor([0.5]))
    step = 0.25 if head.higher_is_similar else -0.25  # a bit more similar than neutral
    torch.testing.assert_close(head.logit(neutral + step), torch.tensor([1.0]))  # 4.0 * 0.25
    assert float(head.scale.detach()) == 4.0


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_calibration_uses_the_given_bias(name: str) -> None:
    head = make_head(name, calibrated=True, init_scale=2.0, init_bias=-1.0)
    scores = torch.tensor([0.0, 0.5, 3.0])
    signed = scores if head.higher_is_similar else -scores
    torch.testing.assert_close(head.logit(scores), 2.0 * signed - 1.0)
    torch.testing.assert_close(head.probability(scores), torch.sigmoid(2.0 * signed - 1.0))


@pytest.mark.parametrize("name", ["cosine", "euclidean"])
def test_uncalibrated_distance_or_cosine_gives_no_probability(name: str) -> None:
    head = make_head(name)
    assert not head.gives_probability
    assert not hasattr(head, "scale") and list(head.parameters()) == []
    with pytest.raises(RuntimeError, match="calibrated=true"):
        head.probability(torch.tensor([0.5]))


def test_uncalibrated_exp_and_weighted_l1_are_probabilistic() -> None:
    exp = make_head("exp")
    assert exp.gives_probability
    scores = torch.tensor([0.2, 0.5, 0.9, 1.0, 0.0])
    p = exp.probability(scores)
    torch.testing.assert_close(p[:3], scores[:3])  # the score is the probability itself
    assert (p > 0).all() and (p < 1).all()  # clamped at the ends
    wl1 = make_head("weighted_l1")
    assert wl1.gives_probability
    logits = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(wl1.logit(logits), logits)  # the score is a logit
    torch.testing.assert_close(wl1.probability(logits), torch.sigmoid(logits))
