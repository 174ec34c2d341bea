"""SiamFC models: sizes follow the stride, saving and loading gives the same responses, training lowers the loss,
and the labels of the logistic loss are balanced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pairsim.errors import ConfigError, ModelFileError
from pairsim.track.model import SiamFC, parse_config
from pairsim.track.train import PairSettings, TrainSettings, label_maps, logistic_loss, make_pair, train


def test_response_size_follows_the_stride(tiny_siamfc: SiamFC) -> None:
    assert tiny_siamfc.stride == 8
    z = tiny_siamfc.features(torch.zeros(1, 3, 127, 127))  # (1, C, 6, 6)
    x = tiny_siamfc.features(torch.zeros(2, 3, 191, 191))  # (2, C, 14, 14)
    assert z.shape[-1] == 6 and x.shape[-1] == 14
    assert tiny_siamfc.response(z, x).shape == (2, 1, 9, 9) and tiny_siamfc.response_size == 9


def test_save_and_load_give_the_same_responses(tiny_siamfc: SiamFC, saved_siamfc: Path) -> None:
    loaded = SiamFC.from_pretrained(saved_siamfc)
    g = torch.Generator().manual_seed(3)
    z, x = torch.rand(2, 3, 127, 127, generator=g), torch.rand(2, 3, 191, 191, generator=g)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(z, x), tiny_siamfc(z, x))
    assert json.loads((saved_siamfc / "config.json").read_text())["model"]["kind"] == "siamfc"


def test_a_changed_weight_file_is_refused(saved_siamfc: Path) -> None:
    weights = saved_siamfc / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model\.safetensors"):
        SiamFC.from_pretrained(saved_siamfc)


def test_a_pair_model_directory_is_not_a_tracker(tmp_path: Path, make_model) -> None:
    saved = make_model("mlp").save_pretrained(tmp_path / "pair")
    with pytest.raises(ModelFileError, match="not a tracking model"):
        SiamFC.from_pretrained(saved)


def test_bad_configs_name_the_key() -> None:
    with pytest.raises(ConfigError, match="search_size"):
        parse_config({"exemplar_size": 127, "search_size": 127})
    with pytest.raises(ConfigError, match="valid tracking backbones: alexnet, timm"):
        parse_config({"backbone": {"name": "vgg"}})


def test_labels_are_balanced_and_centred() -> None:
    labels, weights = label_maps(np.array([[0.0, 0.0], [16.0, -8.0]]), 17, 8, 16.0)
    assert labels.shape == (2, 1, 17, 17)
    assert labels[0, 0, 8, 8] == 1 and labels[0].sum() == 13  # the cells within 2 cells of the centre
    assert labels[1, 0, 7, 10] == 1 and labels[1, 0, 8, 8] == 0  # the target 2 cells right, 1 cell up
    torch.testing.assert_close(weights.sum(dim=(1, 2, 3)), torch.ones(2))
    torch.testing.assert_close((weights * labels).sum(dim=(1, 2, 3)), torch.full((2,), 0.5))


def test_logistic_loss_matches_its_definition() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 5, 5, generator=g)
    labels, weights = label_maps(np.zeros((2, 2)), 5, 8, 8.0)
    manual = (
        sum(
            float((w * F.binary_cross_entropy_with_logits(lg, lb, reduction="none")).sum())
            for lg, lb, w in zip(logits, labels, weights, strict=True)
        )
        / 2
    )
    assert abs(float(logistic_loss(logits, labels, weights)) - manual) < 1e-6


def test_training_pairs_put_the_target_where_the_label_says(tiny_siamfc: SiamFC) -> None:
    from planted_pattern import planted

    frames, boxes = planted(frames=10)

    class Seq:
        def __init__(self) -> None:
            self.boxes = boxes

        def __len__(self) -> int:
            return len(frames)

        def frame(self, t: int) -> np.ndarray:
            return frames[t]

    rng = np.random.default_rng(0)
    for _ in range(5):
        exemplar, search, offset = make_pair(Seq(), tiny_siamfc, rng, PairSettings(shift=12, scale_jitter=0.0))
        size = search.shape[0]
        # the checkerboard's yellow cells are centred on `offset` from the crop's centre (within a pixel or two)
        yellow = (search[..., 0] > 200) & (search[..., 2] < 100)
        ys, xs = np.nonzero(yellow)
        centre = np.array([xs.mean(), ys.mean()]) - (size - 1) / 2
        assert np.abs(centre - offset).max() < 4, (centre, offset)
        assert exemplar.shape == (127, 127, 3)


def test_a_few_steps_lower_the_loss(tiny_siamfc: SiamFC, tmp_path: Path) -> None:
    from planted_pattern import planted

    frames, boxes = planted(frames=30)

    class Seq:
        def __len__(self) -> int:
            return len(frames)

        def frame(self, t: int) -> np.ndarray:
            return frames[t]

    seq = Seq()
    seq.boxes = boxes  # type: ignore[attr-defined]
    history = train(tiny_siamfc, [seq], settings=TrainSettings(steps=12, batch_size=4, lr=3e-3, log_every=1),
                    output_dir=tmp_path / "model")  # fmt: skip
    assert history[-1]["loss"] < history[0]["loss"]
    assert SiamFC.from_pretrained(tmp_path / "model").response_size == tiny_siamfc.response_size


def test_a_timm_backbone_states_its_stride() -> None:
    model = SiamFC(parse_config({"backbone": {"name": "timm", "model": "resnet18", "stride": 8}}))
    assert model.stride == 8 and model.backbone.out_channels == 128
    with pytest.raises(ConfigError, match=r"strides \[2, 4, 8, 16, 32\], got 6"):
        SiamFC(parse_config({"backbone": {"name": "timm", "model": "resnet18", "stride": 6}}))
