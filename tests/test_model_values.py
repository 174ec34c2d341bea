"""What a saved model's values may be (issue 22): weights of the model's own kind and finite, a threshold
within the head's score range, bounded JSON files; no command writes a non-finite score or embedding; and
every model ``save_pretrained`` writes loads again (every registered tower, every registered head)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from pairsim import PairModel
from pairsim.cli import main
from pairsim.errors import ConfigError, DataError, ModelFileError
from pairsim.heads import HEADS

TEXTS = ["How old are you?", "what is your age", "The cat sat on the mat.", "a dog runs in the park"]
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads alone: RecursionError


@pytest.fixture
def edit_weights(rehash: Callable[[Path], None]) -> Callable[[Path, Callable[[dict[str, torch.Tensor]], None]], None]:
    """``edit_weights(saved, edit)``: change a saved model's tensors in place, checksums made consistent again."""

    def run(saved: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> None:
        state = load_file(saved / "model.safetensors")
        edit(state)
        save_file(state, saved / "model.safetensors", metadata={"format": "pt"})
        rehash(saved)

    return run


def _load_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as info:
        PairModel.from_pretrained(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def _cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved(make_model: Callable[..., PairModel], tmp_path: Path) -> Path:
    model = make_model("lstm")
    model.config.threshold = 0.5
    return model.save_pretrained(tmp_path / "saved")


@pytest.fixture
def texts_file(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n")
    return path


# -- weights' values ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_naming_the_tensor(saved: Path, value: float, edit_weights) -> None:
    def poison(state: dict[str, torch.Tensor]) -> None:
        state["tower_a.lstm.weight_hh_l0"][3, 1] = value

    edit_weights(saved, poison)
    assert _load_error(saved) == (
        f"{saved / 'model.safetensors'}: tensor 'tower_a.lstm.weight_hh_l0' holds 1 non-finite value(s) (NaN or "
        "infinity); refused"
    )


def test_float64_weights_that_overflow_float32_are_refused_naming_the_tensor(saved: Path, edit_weights) -> None:
    """A finite float64 1e300 is infinity once the float32 model holds it: refused at load, not blamed on the
    embedding later."""

    def widen(state: dict[str, torch.Tensor]) -> None:
        state.update({k: v.double() for k, v in state.items()})
        state["tower_a.lstm.weight_hh_l0"][3, 1] = 1e300
        state["tower_a.lstm.weight_hh_l0"][0, 0] = -1e39

    edit_weights(saved, widen)
    assert _load_error(saved) == (
        f"{saved / 'model.safetensors'}: tensor 'tower_a.lstm.weight_hh_l0' holds 2 value(s) too large for float32 "
        "(they become infinity in the model); refused"
    )
    edit_weights(saved, lambda s: s["tower_a.lstm.weight_hh_l0"].clamp_(-1, 1))  # in range: float64 loads
    assert PairModel.from_pretrained(saved).tower_a.lstm.weight_hh_l0.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.int8, torch.int64, torch.bool, torch.uint8])
def test_weights_of_another_kind_are_refused_not_cast(saved: Path, dtype: torch.dtype, edit_weights) -> None:
    """issue 22: int8 weights were cast silently and scored near 1e13."""

    def recast(state: dict[str, torch.Tensor]) -> None:
        state["tower_a.embedding.weight"] = (state["tower_a.embedding.weight"] * 100).to(dtype)

    edit_weights(saved, recast)
    kind = str(dtype).removeprefix("torch.")
    assert _load_error(saved) == (
        f"{saved / 'model.safetensors'}: tensor 'tower_a.embedding.weight' is {kind}, but the model holds float32 "
        "there; refused (weights are never converted between kinds)"
    )


def test_half_precision_weights_still_load_and_integer_buffers_keep_their_type(
    make_model: Callable[..., PairModel], saved: Path, tmp_path: Path, edit_weights
) -> None:
    edit_weights(saved, lambda s: s.update({k: v.half() for k, v in s.items()}))  # float -> float: a widening copy
    assert PairModel.from_pretrained(saved).tower_a.embedding.weight.dtype == torch.float32
    cnn = make_model("torchvision").save_pretrained(tmp_path / "cnn")  # batch norms count steps in int64 buffers
    buffers = {k: v.dtype for k, v in load_file(cnn / "model.safetensors").items() if not v.is_floating_point()}
    assert buffers and set(buffers.values()) == {torch.int64}
    PairModel.from_pretrained(cnn)

    def as_float(state: dict[str, torch.Tensor]) -> None:
        for key in buffers:
            state[key] = state[key].float()

    edit_weights(cnn, as_float)
    assert "is float32, but the model holds int64 there" in _load_error(cnn)


def test_save_refuses_non_finite_weights(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    model = make_model("lstm")
    with torch.no_grad():
        model.tower_a.proj.weight.fill_(math.nan) if hasattr(model.tower_a.proj, "weight") else None
        model.tower_a.lstm.bias_hh_l0[0] = math.inf
    with pytest.raises(ModelFileError, match=r"its weights: tensor 'tower_a\.lstm\.bias_hh_l0' holds"):
        model.save_pretrained(tmp_path / "nan-model")
    assert not (tmp_path / "nan-model").exists()


# -- no non-finite output --------------------------------------------------------------------------------------------
@pytest.fixture
def nan_model(make_model: Callable[..., PairModel]) -> PairModel:
    """An LSTM model whose word vector of "cat" is NaN: only texts with that word embed to NaN."""
    model = make_model("lstm")
    with torch.no_grad():
        model.tower_a.embedding.weight[model.tower_a.tokenizer.stoi["cat"]] = math.nan
    return model.eval()


def test_encode_and_score_name_the_input_whose_output_is_not_finite(nan_model: PairModel) -> None:
    with pytest.raises(DataError) as info:
        nan_model.encode_a(TEXTS)
    assert str(info.value) == (
        "side-a input 3 'The cat sat on the mat.': the model gave a non-finite embedding (nan); refused, nothing is "
        "written for it"
    )
    with pytest.raises(DataError, match=r"^side-b input 2 'The cat sat on the mat\.': the model gave a non-finite"):
        nan_model.score(TEXTS[:2], [TEXTS[0], TEXTS[2]])
    assert torch.isfinite(nan_model.score([TEXTS[0]], [TEXTS[1]])).all()  # other inputs still score


def test_a_non_finite_score_from_finite_embeddings_is_refused(make_model: Callable[..., PairModel]) -> None:
    model = make_model("lstm", head="euclidean").eval()
    with torch.no_grad():  # finite but huge embeddings: their squared distance overflows float32
        model.tower_a.proj = torch.nn.Linear(model.tower_a.out_dim, model.tower_a.out_dim)
        model.tower_a.proj.weight.fill_(1e30)
    with pytest.raises(DataError, match=r"^pair 1: the model gave a non-finite score"):
        model.score(TEXTS[:1], TEXTS[2:3])


def test_commands_refuse_a_model_with_nan_weights(
    saved: Path, texts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit_weights
) -> None:
    """issue 22: score printed `nan different` with exit 0; encode / enroll wrote NaN embeddings."""

    def poison(state: dict[str, torch.Tensor]) -> None:
        state["tower_a.embedding.weight"][4] = math.nan

    edit_weights(saved, poison)
    code, out, err = _cli(capsys, "score", texts_file, texts_file, "--model", saved)
    assert code == 2 and out == "" and "'tower_a.embedding.weight' holds 8 non-finite value(s)" in err
    embeddings = tmp_path / "e.npy"
    code, _, err = _cli(capsys, "encode", texts_file, "--model", saved, "--out", embeddings)
    assert code == 2 and not embeddings.exists() and err.count("\n") == 1


def test_the_cli_refuses_a_nan_embedding_at_encode(
    nan_model: PairModel, texts_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The root check in PairScoring reaches every command: loading is patched to hand over the NaN model."""
    import pairsim.cli.model_arg as model_arg

    monkeypatch.setattr(model_arg, "load_model_arg", lambda *a, **k: (nan_model, False))
    out = tmp_path / "e.npy"
    code, _, err = _cli(capsys, "encode", texts_file, "--model", "unused", "--out", out)
    assert code == 2 and not out.exists()
    assert err == (
        "pairsim: error: side-a input 3 'The cat sat on the mat.': the model gave a non-finite embedding (nan); "
        "refused, nothing is written for it\n"
    )
    code, out_text, err = _cli(capsys, "score", texts_file, texts_file, "--model", "unused")
    assert code == 2 and "nan" not in out_text and "side-a input 3" in err


# -- thresholds within the head's score range --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "threshold"),
    [("cosine", 1.5), ("cosine", -1.01), ("exp", 1.2), ("exp", -0.1), ("euclidean", -0.5)],
)
def test_a_threshold_outside_the_heads_range_is_refused_at_save_and_load(
    make_model: Callable[..., PairModel], tmp_path: Path, head: str, threshold: float
) -> None:
    model = make_model("lstm", head=head)
    lo, hi = model.head.score_range
    model.config.threshold = threshold
    with pytest.raises(ConfigError) as info:
        model.save_pretrained(tmp_path / "m")
    assert str(info.value) == (
        f"model.threshold: {threshold!r} is outside the {head} head's score range [{lo:g}, {hi:g}] (every pair "
        "would get the same decision)"
    )
    assert not (tmp_path / "m").exists()
    model.config.threshold = min(max(0.5, lo), hi)
    saved = model.save_pretrained(tmp_path / "m")
    config = json.loads((saved / "config.json").read_text())
    config["model"]["threshold"] = threshold
    (saved / "config.json").write_text(json.dumps(config))
    assert _load_error(saved).startswith(f"config.json:model.threshold: {threshold!r} is outside the {head} head's")


def test_each_head_declares_the_range_its_scores_lie_in(make_model: Callable[..., PairModel]) -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 8, generator=gen) * 3, torch.randn(64, 8, generator=gen) * 3  # (64, 8)
    for name in [n for n in HEADS.names() if HEADS.get(n).reads == "embeddings"]:  # cross_encoder: its own tests
        model = make_model("lstm", head=name)
        lo, hi = model.head.score_range
        scores = torch.cat([model.head(a, b), model.head(a, a)])  # (128,)
        assert bool(((scores >= lo - 1e-6) & (scores <= hi + 1e-6)).all()), name  # float32 rounding at the bounds
    cohort = make_model("lstm", head={"name": "cosine", "cohort": 4})
    assert cohort.head.threshold_range() == (-math.inf, math.inf)  # S-norm scores are standard deviations
    cohort.config.threshold = 2.5
    cohort.head.check_threshold(2.5)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_threshold_is_refused_at_save(
    make_model: Callable[..., PairModel], tmp_path: Path, value: float
) -> None:
    model = make_model("lstm", head="weighted_l1")  # unbounded logits: only finiteness limits the threshold
    model.config.threshold = value
    with pytest.raises(ConfigError, match=f"model.threshold: expected a finite number, got {value}"):
        model.save_pretrained(tmp_path / "m")


def test_a_calibrated_threshold_beyond_every_score_is_kept_within_the_range() -> None:
    from pairsim.heads.cosine import CosineConfig, CosineHead

    head = CosineHead(CosineConfig(name="cosine"))
    assert head.clamp_threshold(1.5) == 1.0 and head.clamp_threshold(-3.0) == -1.0 and head.clamp_threshold(0.2) == 0.2


# -- bounded JSON in a model directory ----------------------------------------------------------------------------------
@pytest.mark.parametrize("file", ["config.json", "tower_a/vocab.json"])
def test_deeply_nested_json_in_a_model_directory_is_one_line(
    saved: Path, file: str, texts_file: Path, capsys: pytest.CaptureFixture[str], rehash
) -> None:
    (saved / file).write_text(DEEP)
    if file != "config.json":
        rehash(saved)
    message = _load_error(saved)
    assert message == f"{saved / file}: JSON nested deeper than 64 levels (100000); refused"
    code, _, err = _cli(capsys, "score", texts_file, texts_file, "--model", saved)
    assert code == 2 and err == f"pairsim: error: {message}\n"


def test_deeply_nested_tokenizer_json_is_one_line(make_model: Callable[..., PairModel], tmp_path: Path, rehash) -> None:
    saved = make_model("transformer").save_pretrained(tmp_path / "t")
    config = saved / "tower_a" / "tokenizer" / "tokenizer_config.json"
    config.write_text('{"model_max_length": 512, "x": ' + DEEP + "}")
    rehash(saved)
    assert _load_error(saved) == f"{config}: JSON nested deeper than 64 levels (100001); refused"


def test_deeply_nested_gallery_metadata_is_one_line(saved: Path, tmp_path: Path) -> None:
    from pairsim.gallery import read_gallery

    path = tmp_path / "g.safetensors"
    save_file({"embeddings": torch.zeros(1, 8)}, path, metadata={"identities": DEEP})
    with pytest.raises(ModelFileError) as info:
        read_gallery(path)
    assert "\n" not in str(info.value) and "g.safetensors" in str(info.value)


# -- every saved model loads again -----------------------------------------------------------------------------------
def _head_configs() -> list[dict[str, Any]]:
    configs: list[dict[str, Any]] = []
    for name in [n for n in HEADS.names() if HEADS.get(n).reads == "embeddings"]:  # tests/heads/test_cross_encoder.py
        configs += [{"name": name}, {"name": name, "calibrated": True}]
    return [*configs, {"name": "cosine", "cohort": 3}]


@pytest.mark.parametrize("head", _head_configs(), ids=lambda h: "-".join(str(v) for v in h.values()))
def test_every_registered_head_saves_and_loads_with_identical_scores(
    make_model: Callable[..., PairModel], tmp_path: Path, head: dict[str, Any]
) -> None:
    model = make_model("lstm", head=head)
    if head.get("cohort"):
        model.head.set_cohort(model.encode_a(TEXTS[:3]))
    model.eval()
    lo, hi = model.head.threshold_range()
    model.config.threshold = float(np.clip(model.head.neutral, lo, hi))
    before = model.score(TEXTS, TEXTS[::-1])
    loaded = PairModel.from_pretrained(model.save_pretrained(tmp_path / "m"))
    assert torch.equal(loaded.score(TEXTS, TEXTS[::-1]), before)
    assert loaded.config.threshold == model.config.threshold and loaded.config.head == model.config.head


def test_the_round_trip_covers_every_registered_tower(tiny_tower_configs: dict[str, Any]) -> None:
    """tests/test_hub.py::test_save_load_gives_identical_scores runs over TOWERS.names(); the table is complete."""
    from pairsim import TOWERS

    assert set(TOWERS.names()) <= set(tiny_tower_configs)
