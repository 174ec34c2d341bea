"""The tracker's fast path gives what the plain path gives: the folded inference network equals the backbone, the
matrix upsampling equals ``F.interpolate``, and the tracker's boxes equal a per-scale reference tracker's on a
planted pattern, in PyTorch and in onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from planted_pattern import planted
from torch import nn

from pairsim.errors import ConfigError
from pairsim.track.geometry import box_at, center_of, context_size, crop
from pairsim.track.model import SiamFC, hann_window
from pairsim.track.runtime import RUNTIMES, inference_network
from pairsim.track.tracker import Tracker, bicubic_matrix


def _with_batch_statistics(model: SiamFC) -> SiamFC:
    """Non-trivial batch-norm statistics and affine terms, so that folding them is really tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def reference_boxes(model: SiamFC, frames: list[np.ndarray], box: tuple[float, ...]) -> np.ndarray:
    """The plain tracker: one crop and one tower call per scale, ``F.interpolate`` upsampling (float32)."""
    c, s = model.config, model.config.tracker
    factors = s.scale_step ** (np.arange(s.scales) - (s.scales - 1) / 2)
    up = model.response_size * s.upsample
    window = hann_window(up)
    w, h = box[2], box[3]
    center, size = np.array(center_of(box)), np.array([w, h], dtype=np.float64)
    side_z = context_size(w, h, c.context)
    side_x = side_z * c.search_size / c.exemplar_size
    fill = frames[0].reshape(-1, 3).mean(0)
    out = [tuple(box)]
    with torch.inference_mode():
        kernel = model.features(SiamFC.to_tensor([crop(frames[0], *center, side_z, c.exemplar_size, fill)]))
        for frame in frames[1:]:
            maps, sides = [], side_x * factors
            for side in sides:
                feats = model.features(SiamFC.to_tensor([crop(frame, *center, side, c.search_size, fill)]))
                r = model.response(kernel, feats)  # (1, 1, R, R)
                maps.append(F.interpolate(r, size=(up, up), mode="bicubic", align_corners=False)[0, 0].numpy())
            peaks = np.array([m.max() for m in maps], dtype=np.float64)
            peaks[np.arange(len(sides)) != (len(sides) - 1) // 2] *= s.scale_penalty
            best = int(peaks.argmax())
            r = maps[best].astype(np.float64) - maps[best].min()
            r = (1 - s.window_influence) * r / r.sum() + s.window_influence * window
            row, col = np.unravel_index(int(r.argmax()), r.shape)
            disp = (np.array([col, row], dtype=np.float64) - (up - 1) / 2) * model.stride / s.upsample
            center = center + disp * sides[best] / c.search_size
            scale = 1 - s.scale_lr + s.scale_lr * factors[best]
            side_x, size = side_x * scale, size * scale
            center = np.clip(center, [0, 0], [frame.shape[1], frame.shape[0]])
            out.append(box_at(*center, *size))
    return np.array(out)


def test_the_inference_network_equals_the_backbone(tiny_siamfc: SiamFC) -> None:
    model = _with_batch_statistics(tiny_siamfc)
    crops = torch.randint(0, 256, (3, 143, 143, 3), dtype=torch.uint8)
    net = inference_network(model.backbone)
    kinds = [type(m).__name__ for m in net.layers]
    assert "BatchNorm2d" not in kinds and kinds[1:3] == ["MaxPool2d", "ReLU"]  # folded, ReLU after the pool
    with torch.inference_mode():
        expected = model.features(SiamFC.to_tensor(crops.numpy()))  # (3, C, 8, 8)
        got = net(crops)
    assert got.shape == expected.shape == (3, model.backbone.out_channels, 8, 8)
    assert torch.allclose(got, expected, atol=1e-4 * float(expected.abs().max()), rtol=0)
    assert model.backbone.features[1].running_var.min() >= 0.5  # the model itself is unchanged
    unfused = RUNTIMES.get("unfused")(model.backbone)(crops.numpy())
    assert torch.equal(unfused, expected)  # the reference runtime is the model's own forward


def test_bicubic_matrix_resizes_as_f_interpolate() -> None:
    r = torch.rand(3, 1, 17, 17, dtype=torch.float64)
    a = bicubic_matrix(17, 272)
    expected = F.interpolate(r, size=(272, 272), mode="bicubic", align_corners=False)[:, 0].numpy()
    assert a.shape == (272, 17)
    np.testing.assert_allclose(a @ r[:, 0].numpy() @ a.T, expected, atol=1e-12)


def test_the_tracker_gives_the_per_scale_reference_boxes(tiny_siamfc: SiamFC) -> None:
    model = _with_batch_statistics(tiny_siamfc)
    frames, truth = planted(frames=12, step=(3, 2))
    expected = reference_boxes(model, frames, tuple(truth[0]))
    got = np.array(list(Tracker(model).track(frames, tuple(truth[0]))))
    assert got.shape == expected.shape == (12, 4)
    np.testing.assert_allclose(got, expected, atol=0.5)  # equal but for a float near-tie: half a pixel at most
    assert np.abs(expected[-1, :2] - truth[-1, :2]).max() < 15  # and the reference does follow the pattern


def test_the_onnx_runtime_gives_the_torch_features_and_boxes(tiny_siamfc: SiamFC) -> None:
    pytest.importorskip("onnxruntime")
    model = _with_batch_statistics(tiny_siamfc)
    crops = np.random.default_rng(0).integers(0, 256, (3, 191, 191, 3), dtype=np.uint8)
    torch_features = RUNTIMES.get("torch")(model.backbone)(crops)
    onnx_features = RUNTIMES.get("onnx")(model.backbone, threads=1)(crops)
    assert onnx_features.shape == torch_features.shape
    assert torch.allclose(onnx_features, torch_features, atol=1e-4 * float(torch_features.abs().max()), rtol=0)
    frames, truth = planted(frames=10, step=(3, 2))
    a = np.array(list(Tracker(model).track(frames, tuple(truth[0]))))
    b = np.array(list(Tracker(model, backend="onnx", threads=1).track(frames, tuple(truth[0]))))
    np.testing.assert_allclose(b, a, atol=0.5)


def test_an_unknown_backend_names_the_valid_ones(tiny_siamfc: SiamFC) -> None:
    with pytest.raises(ConfigError, match="valid tracking runtimes: onnx, torch, unfused"):
        Tracker(tiny_siamfc, backend="tensorrt")
