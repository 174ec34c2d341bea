"""Losses: hand-computed values, gradients, label 1 = similar, and head compatibility checks."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from pairsim import HEADS, LOSSES
from pairsim.errors import ConfigError
from pairsim.heads.base import Head
from pairsim.losses.base import Loss


def head_of(name: str, **fields: Any) -> Head:
    cls = HEADS.get(name)
    return cls(cls.Config(name=name, **fields))


def loss_of(name: str, head: Head, **fields: Any) -> Loss:
    cls = LOSSES.get(name)
    return cls(cls.Config(name=name, **fields), head=head)


T = torch.tensor


def _separated(name: str) -> tuple[tuple, tuple]:
    """Inputs of a loss on a well-separated example: (right labels / pairing, swapped labels / pairing)."""
    if name == "contrastive":  # similar pair at distance 0.1, dissimilar at 5
        a, b = torch.zeros(2, 2), T([[0.0, 0.1], [5.0, 0.0]])
        return (a, b, T([1.0, 0.0])), (a, b, T([0.0, 1.0]))
    if name == "bce":  # exp head: scores exp(-0.01) and exp(-5)
        a, b = torch.zeros(2, 2), T([[0.01, 0.0], [5.0, 0.0]])
        return (a, b, T([1.0, 0.0])), (a, b, T([0.0, 1.0]))
    if name == "triplet":  # mined from two tight, far apart classes; swapped: classes mixed up
        x = T([[0.0, 0.0], [0.0, 0.1], [5.0, 0.0], [5.0, 0.1]])
        return (x, T([0, 0, 1, 1])), (x, T([0, 1, 0, 1]))
    if name in ("infonce", "cached_infonce"):  # orthogonal rows matched with themselves; swapped: the next row
        x = torch.eye(4)
        return (x, x), (x, x.roll(1, 0))
    if name == "matryoshka":  # as infonce, with rows whose first 2 dimensions also point 4 different ways
        x = T([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], [-1.0, 0.0, -1.0, 0.0], [0.0, -1.0, 0.0, -1.0]])
        return (x, x), (x, x.roll(1, 0))
    if name == "cosent":  # the more similar pair (target 5) scores higher; swapped: ordered the wrong way
        a, b = T([[1.0, 0.0], [1.0, 0.0]]), T([[1.0, 0.0], [0.0, 1.0]])  # cosines 1 and 0
        return (a, b, T([5.0, 0.0])), (a, b, T([0.0, 5.0]))
    if name == "prototypical":  # support x0 (way 0), x2 (way 1); queries x1, x3 next to them; swapped: ways mixed
        x = T([[0.0, 0.0], [0.0, 0.1], [5.0, 0.0], [5.0, 0.1]])
        return (x, T([[0, 0], [0, 1], [1, 0], [1, 1]])), (x, T([[0, 0], [1, 1], [1, 0], [0, 1]]))
    if name in ("mse", "listwise"):  # cosines 1 and 0 with targets 1 and 0 (5 and 0); swapped: the other way
        a, b, top = T([[1.0, 0.0], [1.0, 0.0]]), T([[1.0, 0.0], [0.0, 1.0]]), 1.0 if name == "mse" else 5.0
        return (a, b, T([top, 0.0])), (a, b, T([0.0, top]))
    if name == "margin_mse":  # student margin cos(q, p) - cos(q, n) = 1; the teacher's margin 1, swapped: -1
        q, p, n = T([[1.0, 0.0]]), T([[1.0, 0.0]]), T([[0.0, 1.0]])
        return (q, p, n, T([1.0])), (q, p, n, T([-1.0]))
    if name == "ranking":  # label 1 = a ranks higher
        a, b = T([[2.0], [0.0]]), T([[0.0], [2.0]])
        return (a, b, T([1.0, 0.0])), (a, b, T([0.0, 1.0]))
    raise KeyError(name)


# One working setup per registered loss (its head and config); a loss registered without a row here fails
# test_every_loss_has_a_test_case.
LOSS_CASES: dict[str, dict[str, Any]] = {
    "bce": {"head": ("exp", {}), "config": {}, "dim": 4},
    "contrastive": {"head": ("euclidean", {}), "config": {"margin": 2.0}, "dim": 4},
    "cosent": {"head": ("euclidean", {}), "config": {}, "dim": 4},
    "infonce": {"head": ("cosine", {}), "config": {}, "dim": 4},
    "cached_infonce": {"head": ("cosine", {}), "config": {"mini_batch_size": 2}, "dim": 4},
    "matryoshka": {"head": ("cosine", {}), "config": {"dims": [4, 2]}, "dim": 4},
    "listwise": {"head": ("cosine", {}), "config": {}, "dim": 4},
    "margin_mse": {"head": ("cosine", {}), "config": {}, "dim": 4},
    "mse": {"head": ("cosine", {}), "config": {}, "dim": 4},
    "prototypical": {"head": ("euclidean", {}), "config": {}, "dim": 4},
    "ranking": {"head": ("cosine", {}), "config": {"margin": 10.0}, "dim": 1},
    "triplet": {"head": ("euclidean", {}), "config": {"margin": 10.0, "mining": "batch_hard"}, "dim": 4},
}


def build_case(name: str) -> Loss:
    case = LOSS_CASES[name]
    head_name, head_fields = case["head"]
    return loss_of(name, head_of(head_name, **head_fields), **case["config"])


def random_inputs(loss: Loss, dim: int, b: int = 6) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)

    def emb() -> torch.Tensor:
        return torch.randn(b, dim, generator=g).requires_grad_(True)

    embeddings = tuple(emb() for _ in loss.consumes.sides)  # one (B, D) per slot of the row
    target = {
        "binary": T([1.0, 0.0] * (b // 2)),
        "graded": T([3.0, 1.0, 0.0] * (b // 3)),
        "class": torch.arange(b) % 3,
        "episode": T([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]),  # 3 ways: a support and a query each
    }.get(loss.consumes.target)
    return embeddings if target is None else (*embeddings, target)


def test_every_loss_has_a_test_case() -> None:
    assert sorted(LOSS_CASES) == LOSSES.names(), "add a LOSS_CASES row (and a _separated example) per loss"


@pytest.mark.parametrize("name", LOSSES.names())
def test_gradients_flow(name: str) -> None:
    loss = build_case(name)
    inputs = random_inputs(loss, LOSS_CASES[name]["dim"])
    value = loss(*inputs)
    assert value.ndim == 0 and torch.isfinite(value) and value > 0
    value.backward()
    for x in inputs:
        if x.is_floating_point() and x.requires_grad:
            assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in loss.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", LOSSES.names())
def test_label_one_means_similar(name: str) -> None:
    """Swapping the labels (or the pairing) of a well-separated example increases the loss."""
    loss = build_case(name)
    if "margin" in loss.config.__dataclass_fields__ and name != "contrastive":
        loss.config.margin = 1.0  # the examples are separated by more than 1
    right, swapped = _separated(name)
    with torch.no_grad():
        low, high = float(loss(*right)), float(loss(*swapped))
    assert low < high
    assert low < 0.1 * high  # well separated: the right labelling is nearly free


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_does_not_own_the_head(name: str) -> None:
    head = head_of("weighted_l1", dim=4) if name == "bce" else head_of("euclidean")
    loss = loss_of(name, head)
    assert loss.head is head
    assert not any(k.startswith("head") for k in loss.state_dict())
    assert all(p is not q for p in loss.parameters() for q in head.parameters())


# -- contrastive --------------------------------------------------------------------------------------------------
def test_contrastive_euclidean_margin_2_by_hand() -> None:
    loss = loss_of("contrastive", head_of("euclidean"), margin=2.0)
    a = torch.zeros(4, 2)
    b = T([[0.0, 1.0], [3.0, 4.0], [0.0, 1.0], [0.0, 0.5]])  # distances 1, 5, 1, 0.5
    labels = T([1, 1, 0, 0])  # integer labels are fine
    # similar: d^2 = 1, 25; dissimilar: max(0, 2 - d)^2 = 1, 2.25 -> (1 + 25 + 1 + 2.25) / 4 / 2 = 3.65625
    torch.testing.assert_close(loss(a, b, labels), T(3.65625))
    # a dissimilar pair beyond the margin costs nothing, a similar one at distance 0 neither
    torch.testing.assert_close(
        loss(torch.zeros(2, 2), T([[3.0, 0.0], [0.0, 0.0]]), T([0.0, 1.0])), T(0.0), atol=1e-10, rtol=0
    )


def test_contrastive_cosine_default_margin_by_hand() -> None:
    loss = loss_of("contrastive", head_of("cosine"))
    assert loss.margin == 0.5  # the cosine head's neutral score
    a = T([[1.0, 0.0]] * 4)
    b = T([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])  # cosines 1, 0, 1/sqrt2, -1
    labels = T([1.0, 1.0, 0.0, 0.0])
    # similar: (1 - s)^2 = 0, 1; dissimilar: max(0, s - 0.5)^2 = (0.70711 - 0.5)^2 = 0.042893, 0
    expected = (0 + 1 + (2**-0.5 - 0.5) ** 2 + 0) / 4 / 2
    torch.testing.assert_close(loss(a, b, labels), T(expected))


def test_contrastive_exp_head_by_hand() -> None:
    loss = loss_of("contrastive", head_of("exp"), margin=0.3)
    a = torch.zeros(2, 1)
    b = T([[math.log(2.0)], [math.log(2.0)]])  # score exp(-ln 2) = 0.5
    # similar: (1 - 0.5)^2 = 0.25; dissimilar: (0.5 - 0.3)^2 = 0.04 -> 0.29 / 2 / 2
    torch.testing.assert_close(loss(a, b, T([1.0, 0.0])), T(0.29 / 4))


def test_contrastive_with_weighted_l1_raises() -> None:
    with pytest.raises(ConfigError, match="loss 'contrastive' cannot be used with head 'weighted_l1'"):
        loss_of("contrastive", head_of("weighted_l1", dim=4))


# -- triplet -----------------------------------------------------------------------------------------------------
def test_triplet_given_euclidean_by_hand() -> None:
    loss = loss_of("triplet", head_of("euclidean"), margin=1.0, mining="none")
    assert loss.consumes.sides == ("a", "b", "b") and loss.consumes.sampler == "triplets"
    anchor = torch.zeros(2, 2)
    positive = T([[0.0, 0.5], [1.0, 0.0]])  # d_ap = 0.5, 1
    negative = T([[0.0, 1.0], [3.0, 0.0]])  # d_an = 1, 3
    # max(0, 1 - (d_an - d_ap)) = 0.5, max(0, 1 - 2) = 0 -> mean 0.25
    torch.testing.assert_close(loss(anchor, positive, negative), T(0.25))


def test_triplet_given_cosine_by_hand() -> None:
    loss = loss_of("triplet", head_of("cosine"), margin=1.0, mining="none")
    # cos(a, p) = 1/sqrt2, cos(a, n) = 0 -> max(0, 1 - (0.70711 - 0)) = 0.29289
    value = loss(T([[1.0, 0.0]]), T([[1.0, 1.0]]), T([[0.0, 1.0]]))
    torch.testing.assert_close(value, T(1 - 2**-0.5))


# 1-D points with the euclidean head (sim = -distance), classes [0, 0, 1, 1], margin 1:
#   x = 0, 0.5 | 1, 3       d01 = 0.5, d02 = 1, d03 = 3, d12 = 0.5, d13 = 2.5, d23 = 2
# hinge(a, p, n) = 1 + d_ap - d_an:
#   (0,1,2) 0.5   (0,1,3) -1.5   (1,0,2) 1.0   (1,0,3) -1.0
#   (2,3,0) 2.0   (2,3,1) 2.5    (3,2,0) 0.0   (3,2,1) 0.5
# batch_all: mean of the violating ones (> 0): (0.5 + 1 + 2 + 2.5 + 0.5) / 5 = 1.3
# batch_hard: per anchor max d_ap, min d_an: a0 1+0.5-1 = 0.5, a1 1+0.5-0.5 = 1, a2 1+2-0.5 = 2.5,
#             a3 1+2-2.5 = 0.5 -> 4.5 / 4 = 1.125
# semi_hard: per (a, p) the closest negative farther than p, else the farthest negative:
#   (0,1): d_ap 0.5, negatives 1, 3 -> 1 -> 0.5;   (1,0): 0.5, negatives 0.5 (not farther), 2.5 -> 2.5 -> 0
#   (2,3): 2, negatives 1, 0.5, none farther -> farthest 1 -> 2.0;   (3,2): 2, negatives 3, 2.5 -> 2.5 -> 0.5
#   -> (0.5 + 0 + 2 + 0.5) / 4 = 0.75
POINTS_1D = T([[0.0], [0.5], [1.0], [3.0]])
CLASSES = T([0, 0, 1, 1])


@pytest.mark.parametrize(("mining", "expected"), [("batch_all", 1.3), ("batch_hard", 1.125), ("semi_hard", 0.75)])
def test_triplet_mining_euclidean_by_hand(mining: str, expected: float) -> None:
    loss = loss_of("triplet", head_of("euclidean"), margin=1.0, mining=mining)
    assert loss.consumes.sides == ("a",) and loss.consumes.target == "class" and loss.consumes.sampler == "pk"
    x = POINTS_1D.clone().requires_grad_(True)
    value = loss(x, CLASSES)
    torch.testing.assert_close(value, T(expected))
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_triplet_batch_hard_cosine_by_hand() -> None:
    # unit vectors at 0 and 30 degrees (class 0), 90 and 45 degrees (class 1); sim = cosine, margin 0.2
    deg = T([0.0, 30.0, 90.0, 45.0]) * math.pi / 180
    x = torch.stack([deg.cos(), deg.sin()], dim=1)
    loss = loss_of("triplet", head_of("cosine"), margin=0.2, mining="batch_hard")
    c = lambda d: math.cos(math.radians(d))  # noqa: E731
    # anchor: (hardest positive sim, hardest negative sim)
    # a0: cos30, max(cos90, cos45) = cos45;  a1: cos30, max(cos60, cos15) = cos15
    # a2: cos45, max(cos90, cos60) = cos60 (not violating);  a3: cos45, max(cos45, cos15) = cos15
    hinges = [0.2 - (c(30) - c(45)), 0.2 - (c(30) - c(15)), max(0.0, 0.2 - (c(45) - c(60))), 0.2 - (c(45) - c(15))]
    torch.testing.assert_close(loss(x, CLASSES), T(sum(hinges) / 4))


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_triplet_mining_all_satisfied_is_zero_with_a_graph(mining: str) -> None:
    loss = loss_of("triplet", head_of("euclidean"), margin=0.5, mining=mining)
    x = T([[0.0], [0.1], [10.0], [10.1]]).requires_grad_(True)
    value = loss(x, CLASSES)
    assert float(value.detach()) == 0.0
    value.backward()  # still differentiable
    assert x.grad is not None


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_triplet_mining_without_valid_triplets_is_zero(mining: str) -> None:
    loss = loss_of("triplet", head_of("euclidean"), margin=0.5, mining=mining)
    x = torch.randn(3, 2, requires_grad=True)
    for labels in (T([0, 1, 2]), T([4, 4, 4])):  # no positives / no negatives
        value = loss(x, labels)
        assert float(value.detach()) == 0.0
        value.backward()


# -- bce -----------------------------------------------------------------------------------------------------------
def test_bce_weighted_l1_equals_logits_of_the_weighted_l1_distance() -> None:
    head = head_of("weighted_l1", dim=3)
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    labels = T([1.0, 0.0, 1.0, 1.0, 0.0])
    logits = (a - b).abs() @ head.weight + head.offset  # Koch et al.: w . |a - b| + c
    torch.testing.assert_close(loss_of("bce", head)(a, b, labels), F.binary_cross_entropy_with_logits(logits, labels))
    # pos_weight multiplies the similar pairs' terms: -[w y log s(z) + (1 - y) log(1 - s(z))]
    manual = -(3.0 * labels * F.logsigmoid(logits) + (1 - labels) * F.logsigmoid(-logits)).mean()
    torch.testing.assert_close(loss_of("bce", head, pos_weight=3.0)(a, b, labels), manual)


def test_bce_exp_head_by_hand() -> None:
    loss = loss_of("bce", head_of("exp"))
    a = torch.zeros(2, 2)
    b = T([[math.log(2.0), 0.0], [math.log(4.0), 0.0]])  # scores exp(-L1) = 0.5, 0.25
    # similar pair with p = 0.5: -ln 0.5; dissimilar pair with p = 0.25: -ln 0.75
    torch.testing.assert_close(loss(a, b, T([1.0, 0.0])), T((math.log(2.0) - math.log(0.75)) / 2))


def test_bce_calibrated_cosine_by_hand() -> None:
    head = head_of("cosine", calibrated=True, init_scale=4.0, init_bias=-1.0)
    loss = loss_of("bce", head)
    a, b = T([[1.0, 0.0], [1.0, 0.0]]), T([[1.0, 0.0], [0.0, 1.0]])  # cosines 1, 0 -> logits 3, -1
    expected = -(F.logsigmoid(T(3.0)) + F.logsigmoid(T(1.0))) / 2  # labels 1, 0
    torch.testing.assert_close(loss(a, b, T([1.0, 0.0])), expected)
    loss(a, b, T([1.0, 0.0])).backward()
    assert head.scale.grad is not None and head.bias.grad is not None


@pytest.mark.parametrize("head_name", ["cosine", "euclidean"])
def test_bce_with_an_uncalibrated_non_probabilistic_head_raises(head_name: str) -> None:
    with pytest.raises(ConfigError, match=f"loss 'bce' cannot be used with head '{head_name}'.*calibrated"):
        loss_of("bce", head_of(head_name))
    loss_of("bce", head_of(head_name, calibrated=True))  # calibrated: fine


# -- infonce -------------------------------------------------------------------------------------------------------
def test_infonce_2x2_by_hand() -> None:
    loss = loss_of("infonce", head_of("cosine"), temperature=1.0, learn_temperature=False)
    x = torch.eye(2)
    # logits [[1, 0], [0, 1]] both ways: -log(e / (e + 1)) = log(1 + 1/e)
    torch.testing.assert_close(loss(x, x), T(math.log1p(math.exp(-1.0))))
    # euclidean head: signed logits -d = [[0, -sqrt2], [-sqrt2, 0]] -> log(1 + exp(-sqrt2))
    euclid = loss_of("infonce", head_of("euclidean"), temperature=1.0, learn_temperature=False)
    torch.testing.assert_close(euclid(x, x), T(math.log1p(math.exp(-math.sqrt(2.0)))), atol=1e-5, rtol=1e-5)


def test_infonce_orthogonal_vs_shuffled() -> None:
    loss = loss_of("infonce", head_of("cosine"), temperature=1.0, learn_temperature=False)
    x = torch.eye(4)
    # matched: -log(e / (e + 3)); shuffled: the target logit is 0 and one other is 1: log(e + 3)
    aligned, shuffled = loss(x, x), loss(x, x.roll(1, 0))
    torch.testing.assert_close(aligned, T(math.log(1 + 3 / math.e)))
    torch.testing.assert_close(shuffled, T(math.log(math.e + 3)))
    assert aligned < shuffled


def test_infonce_is_the_mean_of_both_directions() -> None:
    head = head_of("cosine")
    loss = loss_of("infonce", head, temperature=0.5, learn_temperature=False)
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    m = head.matrix(a, b) / 0.5
    target = torch.arange(3)
    expected = (F.cross_entropy(m, target) + F.cross_entropy(m.T, target)) / 2
    torch.testing.assert_close(loss(a, b), expected)


def test_infonce_scale_is_capped() -> None:
    loss = loss_of("infonce", head_of("cosine"), temperature=0.001, learn_temperature=False, max_scale=100.0)
    a, b = torch.eye(2), T([[0.0, 1.0], [1.0, 0.0]])  # every pair matched with its orthogonal partner
    # logits 100 * [[0, 1], [1, 0]] with targets on the diagonal: log(1 + e^100) = 100 (not 1000)
    torch.testing.assert_close(loss(a, b), T(100.0))


def test_infonce_temperature_parameter_or_buffer() -> None:
    learned = loss_of("infonce", head_of("cosine"), temperature=0.07)
    assert [n for n, _ in learned.named_parameters()] == ["log_scale"]
    torch.testing.assert_close(learned.log_scale.detach(), T(math.log(1 / 0.07)))
    fixed = loss_of("infonce", head_of("cosine"), temperature=0.07, learn_temperature=False)
    assert list(fixed.parameters()) == [] and "log_scale" in fixed.state_dict()


# -- ranking ---------------------------------------------------------------------------------------------------------
def test_ranking_by_hand() -> None:
    loss = loss_of("ranking", head_of("cosine"), margin=1.0)
    a, b = T([[2.0], [0.0], [1.0]]), T([[0.5], [1.0], [1.0]])
    labels = T([1.0, 1.0, 0.0])  # a ranks higher, a ranks higher, b ranks higher
    # max(0, 1 - y'(s_a - s_b)): max(0, 1 - 1.5) = 0; max(0, 1 + 1) = 2; max(0, 1 + 0) = 1 -> mean 1
    torch.testing.assert_close(loss(a, b, labels), T(1.0))
    torch.testing.assert_close(loss(a[:, 0], b[:, 0], labels), T(1.0))  # (B,) scores too


def test_ranking_needs_one_score_per_input() -> None:
    loss = loss_of("ranking", head_of("cosine"))
    with pytest.raises(ValueError, match="out_dim 1"):
        loss(torch.zeros(2, 3), torch.zeros(2, 3), T([1.0, 0.0]))


def test_what_each_loss_consumes() -> None:
    expected: dict[str, tuple[tuple[str, ...], str, str]] = {
        "contrastive": (("a", "b"), "binary", "pairs"),
        "bce": (("a", "b"), "binary", "pairs"),
        "ranking": (("a", "b"), "binary", "ranked_pairs"),  # pairs of one group with different ranks
        "cosent": (("a", "b"), "graded", "pairs"),
        "infonce": (("a", "b"), "none", "aligned"),
        "cached_infonce": (("a", "b"), "none", "aligned"),
        "matryoshka": (("a", "b"), "none", "aligned"),  # the wrapped loss's rows (infonce here)
        "triplet": (("a",), "class", "pk"),
        "prototypical": (("a",), "episode", "episodes"),
    }
    for name, (sides, target, sampler) in expected.items():
        c = build_case(name).consumes
        assert (c.sides, c.target, c.sampler) == (sides, target, sampler)


# -- prototypical ---------------------------------------------------------------------------------------------------
# Support way 0: (0, 0), (2, 0) -> prototype (1, 0); way 1: (0, 4), (0, 6) -> prototype (0, 5); one query (2, 1) of
# way 0 (and one (1, 1) of way 0 for the euclidean case).
SUPPORT = T([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
EPISODE = T([[0, 0], [0, 0], [1, 0], [1, 0], [0, 1]])


def test_prototypical_euclidean_by_hand() -> None:
    loss = loss_of("prototypical", head_of("euclidean"))
    x = torch.cat([SUPPORT, T([[1.0, 1.0]])]).requires_grad_(True)
    # distances to the prototypes: 1 and sqrt(1 + 16); logits are minus the distances
    expected = math.log(1 + math.exp(-(math.sqrt(17) - 1)))
    value = loss(x, EPISODE)
    torch.testing.assert_close(value, T(expected))
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad[:4].abs().sum() > 0  # support rows get gradients too


def test_prototypical_cosine_by_hand() -> None:
    loss = loss_of("prototypical", head_of("cosine"), scale=2.0)
    x = torch.cat([SUPPORT, T([[2.0, 1.0]])])
    # cosines of (2, 1) to (1, 0) and (0, 5): 2 / sqrt5 and 1 / sqrt5; logits = 2 * cosine
    expected = math.log(1 + math.exp(-2 * (2 - 1) / math.sqrt(5)))
    torch.testing.assert_close(loss(x, EPISODE), T(expected))
    wrong = EPISODE.clone()
    wrong[4, 0] = 1  # the same query called way 1: the loss rises
    assert loss(x, wrong) > loss(x, EPISODE)


# -- cosent ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head_name", ["cosine", "euclidean"])
def test_cosent_by_hand(head_name: str) -> None:
    """Three pairs with graded targets 3 > 1 > 0; each ordered couple (i, j) adds exp(scale * (s_j - s_i)),
    with s read in the head's direction (a distance is negated)."""
    a = T([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    b = T([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    head = head_of(head_name)
    s = head(a, b)
    s = s if head.higher_is_similar else -s
    scale = 2.0
    expected = torch.log(1 + sum(torch.exp(scale * (s[j] - s[i])) for i, j in [(0, 1), (0, 2), (1, 2)]))
    torch.testing.assert_close(loss_of("cosent", head, scale=scale)(a, b, T([3.0, 1.0, 0.0])), expected)
    # equal targets are not ordered: no term, log(1 + 0) = 0
    torch.testing.assert_close(loss_of("cosent", head)(a, b, T([2.0, 2.0, 2.0])), T(0.0))
