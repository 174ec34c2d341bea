"""The cosine head's S-norm cohort (``head: {name: cosine, cohort: K}``): the formula, when it applies, saving
and loading (the trainer's part: tests/train/test_cohort.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pairsim.heads.cosine import CosineConfig, CosineHead


def _snorm(a: torch.Tensor, b: torch.Tensor, cohort: torch.Tensor) -> torch.Tensor:
    """The S-norm matrix written out: each side's cosines to the cohort give its mean and (sample) std."""
    za, zb, zc = F.normalize(a, dim=1), F.normalize(b, dim=1), F.normalize(cohort, dim=1)
    s = za @ zb.T  # (Ba, Bb)
    ca, cb = za @ zc.T, zb @ zc.T  # (Ba, K), (Bb, K)
    left = (s - ca.mean(1, keepdim=True)) / ca.std(1, keepdim=True)
    right = (s - cb.mean(1)[None, :]) / cb.std(1)[None, :]
    return (left + right) / 2


def test_snorm_scores_follow_the_formula_in_eval_mode_only() -> None:
    g = torch.Generator().manual_seed(0)
    a, b, cohort = torch.randn(4, 6, generator=g), torch.randn(3, 6, generator=g), torch.randn(20, 6, generator=g)
    head = CosineHead(CosineConfig(name="cosine", cohort=20)).eval()
    head.bind(6)
    plain = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T  # (4, 3)
    torch.testing.assert_close(head.matrix(a, b), plain)  # no cohort stored yet: plain cosine
    head.set_cohort(cohort)
    expected = _snorm(a, b, cohort)
    torch.testing.assert_close(head.matrix(a, b), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(head(a[:3], b), torch.diagonal(expected[:3]), atol=1e-5, rtol=1e-5)
    head.train()  # losses see plain cosines
    torch.testing.assert_close(head.matrix(a, b), plain)


def test_the_cohort_is_saved_and_loaded_and_absent_without_one() -> None:
    head = CosineHead(CosineConfig(name="cosine", cohort=8)).eval()
    head.bind(5)
    head.set_cohort(torch.randn(8, 5))
    loaded = CosineHead(CosineConfig(name="cosine", cohort=8)).eval()
    loaded.bind(5)  # what PairModel does with the towers' embedding size
    loaded.load_state_dict(head.state_dict())
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    torch.testing.assert_close(loaded(a, b), head(a, b))
    plain = CosineHead(CosineConfig(name="cosine"))
    assert list(plain.state_dict()) == []  # models saved without a cohort keep their keys
    with pytest.raises(RuntimeError, match="built without a cohort"):
        plain.set_cohort(torch.randn(2, 5))
    with pytest.raises(ValueError, match="cohort: expected 8 embeddings, got 3"):
        head.set_cohort(torch.randn(3, 5))


def test_a_cohort_of_one_or_with_calibration_is_one_config_error() -> None:
    from pairsim.config import from_dict
    from pairsim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"head\.cohort: expected 0 \(off\) or at least 2 embeddings"):
        from_dict(CosineConfig, {"name": "cosine", "cohort": 1}, where="head")
    with pytest.raises(ConfigError, match=r"calibrated: true .* cannot be used with a cohort"):
        from_dict(CosineConfig, {"name": "cosine", "cohort": 4, "calibrated": True}, where="head")


def test_the_cohort_follows_the_inputs_device_and_dtype() -> None:
    head = CosineHead(CosineConfig(name="cosine", cohort=4)).eval()
    head.bind(3)
    head.set_cohort(torch.randn(4, 3))
    a, b = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    assert head(a, b).dtype == torch.float64  # the float32 cohort is cast to the inputs' dtype (and device)
