"""Inference precision: auto picks bf16 only where the CPU computes it natively; fp32 / bf16 force it; the
models' encode path (and the frozen-tower caches) run in what is chosen. Nothing here depends on this CPU."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pairsim.cli import main
from pairsim.device import cpu_has_bf16, inference_precision, precision_setting, resolve_precision
from pairsim.errors import ConfigError


@pytest.mark.parametrize(
    ("setting", "device", "native", "expected"),
    [
        ("auto", "cpu", True, "bf16"),
        ("auto", "cpu", False, "fp32"),
        ("fp32", "cpu", True, "fp32"),  # forcing fp32 wins over a bf16 CPU
        ("bf16", "cpu", False, "bf16"),  # forcing bf16 wins over a CPU without it
        ("auto", "meta", True, "fp32"),  # not a CPU: auto stays fp32
    ],
)
def test_resolve_precision(setting: str, device: str, native: bool, expected: str) -> None:
    assert resolve_precision(setting, device, cpu_bf16=native) == expected


def test_cpu_flags_and_bad_settings() -> None:
    assert cpu_has_bf16("flags : fpu avx2 avx512f avx512_bf16") and cpu_has_bf16("flags : amx_bf16 amx_tile")
    assert not cpu_has_bf16("flags : fpu sse avx2 avx512f") and not cpu_has_bf16("")
    with pytest.raises(ConfigError, match="precision: unknown 'half'"):
        resolve_precision("half", "cpu")


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAIRSIM_PRECISION", raising=False)
    assert precision_setting() == "fp32"
    monkeypatch.setenv("PAIRSIM_PRECISION", "BF16")
    assert precision_setting() == "bf16"
    monkeypatch.setenv("PAIRSIM_PRECISION", "fp8")
    with pytest.raises(ConfigError, match="PAIRSIM_PRECISION: unknown precision 'fp8'"):
        precision_setting()


def test_inference_precision_autocasts_only_for_bf16() -> None:
    with inference_precision("fp32", "cpu") as used:
        assert used == "fp32" and not torch.is_autocast_enabled("cpu")
    with inference_precision("bf16", "cpu") as used:
        assert used == "bf16" and torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


def test_encode_runs_in_the_chosen_precision_and_fp32_is_the_fp32_path(
    make_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model("lstm", head="cosine").eval()
    seen: list[bool] = []
    forward = model.tower_a.forward

    def spy(batch: Any) -> torch.Tensor:  # records the precision it is called in, computes in fp32 (no CPU kernels)
        seen.append(torch.is_autocast_enabled("cpu"))
        with torch.autocast("cpu", enabled=False):
            return forward(batch)

    monkeypatch.setattr(model.tower_a, "forward", spy)
    texts = ["the cat sat", "a dog runs"]
    model.precision = "fp32"
    fp32 = model.encode_a(texts)
    with torch.inference_mode():
        plain = model.tower_a(model.tower_a.preprocess(texts)).float()  # (2, D) outside any precision context
    assert seen == [False, False] and torch.equal(fp32, plain)
    model.precision = "bf16"
    bf16 = model.encode_a(texts)
    assert seen[-1] is True and bf16.dtype == torch.float32 and torch.equal(bf16, fp32)  # the spy computed fp32
    model.precision = None
    monkeypatch.setenv("PAIRSIM_PRECISION", "bf16")
    model.encode_a(texts)
    assert seen[-1] is True


def test_the_cli_option_sets_the_precision_for_the_command_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAIRSIM_PRECISION", raising=False)
    from pairsim.cli import build_parser

    assert build_parser().parse_args(["--precision", "bf16", "unenroll", "x", "--gallery", "g"]).precision == "bf16"
    assert main(["--precision", "bf16", "unenroll", "x", "--gallery", "/nonexistent/g.safetensors"]) == 2
    assert "PAIRSIM_PRECISION" not in __import__("os").environ  # restored after the command


def test_the_frozen_tower_cache_encodes_in_the_chosen_precision(
    make_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pairsim.train.frozen import encode_batches

    tower = make_model("lstm", head="cosine").tower_a
    seen: list[bool] = []

    def run(batch: Any) -> torch.Tensor:
        seen.append(torch.is_autocast_enabled("cpu"))
        return torch.zeros(len(batch["ids"]) if "ids" in batch else 1, 4)

    for setting, expected in (("fp32", False), ("bf16", True)):
        monkeypatch.setenv("PAIRSIM_PRECISION", setting)
        encode_batches(tower, ["the cat sat", "a dog"], run, batch_size=2)
        assert seen[-1] is expected
