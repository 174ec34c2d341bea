"""Image towers: preprocessing, the two small convnets, and backbone weights from local files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from pairsim.config import from_dict
from pairsim.errors import ConfigError, ModelFileError
from pairsim.towers import TOWERS, Tower, TowerConfig
from pairsim.towers.weights import read_state_dict


def build(config: dict[str, Any]) -> Tower:
    torch.manual_seed(0)
    cfg = from_dict(TowerConfig, config, where="tower")
    return TOWERS.get(cfg.name)(cfg)


def test_preprocess_resizes_converts_and_normalises(tower_config: Callable[..., dict[str, Any]]) -> None:
    tower = build(tower_config("torchvision", image_size=[16, 12]))
    white = np.full((30, 20, 3), 255, dtype=np.uint8)
    gray = np.full((10, 10), 0, dtype=np.uint8)  # grayscale in, RGB out
    batch = tower.preprocess([white, gray])
    assert list(batch) == ["pixel_values"]
    x = batch["pixel_values"]
    assert x.shape == (2, 3, 16, 12) and x.dtype == torch.float32
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x[0], ((1 - mean) / std)[:, None, None].expand(3, 16, 12))
    torch.testing.assert_close(x[1], ((0 - mean) / std)[:, None, None].expand(3, 16, 12))


def test_grayscale_tower_converts_rgb(tower_config: Callable[..., dict[str, Any]], pngs) -> None:
    tower = build(tower_config("cnn", mean=[0.5], std=[0.5]))
    paths = pngs(n=2)
    x = tower.preprocess([*paths, np.ones((80, 80), dtype=bool)])["pixel_values"]
    assert x.shape == (3, 1, 72, 72)
    torch.testing.assert_close(x[2], torch.ones(1, 72, 72))  # (1 - 0.5) / 0.5
    assert x[:2].min() >= -1 and x[:2].max() <= 1 and x[0].std() > 0.1


def test_paths_and_arrays_of_one_image_agree(tower_config: Callable[..., dict[str, Any]], pngs) -> None:
    tower = build(tower_config("timm"))
    path = pngs(n=1)[0]
    from PIL import Image

    array = np.asarray(Image.open(path).convert("RGB"))
    a, b = tower.preprocess([path])["pixel_values"], tower.preprocess([array])["pixel_values"]
    assert torch.equal(a, b)


def test_crop_to_content_gives_the_same_input_wherever_the_drawing_sits() -> None:
    tower = build({"name": "cnn", "arch": "conv4", "out_dim": 0, "image_size": [28, 28], "crop_to_content": 0.1})
    plain = build({"name": "cnn", "arch": "conv4", "out_dim": 0, "image_size": [28, 28]})
    glyph = np.ones((105, 105), dtype=bool)  # True = background, as Omniglot's drawings
    glyph[10:30, 10:14] = glyph[10:14, 10:30] = False  # an "L" rotated: strokes 4 px wide
    moved = np.roll(glyph, (60, 50), axis=(0, 1))
    x = tower.preprocess([glyph, moved])["pixel_values"]  # (2, 1, 28, 28)
    torch.testing.assert_close(x[0], x[1])
    assert (x[0] < 0.5).float().mean() > 0.2  # strokes: 144 px of the 24 px square (25%); 27% after resizing
    y = plain.preprocess([glyph, moved])["pixel_values"]
    assert not torch.allclose(y[0], y[1]) and (y[0] < 0.5).float().mean() < 0.05  # 1% of the whole canvas


def test_cnn_rejects_too_small_images() -> None:
    with pytest.raises(ConfigError, match=r"image_size \[40, 40\] is too small for arch 'koch' \(at least 65x65\)"):
        build({"name": "cnn", "width": 0.25, "out_dim": 8, "image_size": [40, 40]})
    build({"name": "cnn", "width": 0.25, "out_dim": 8, "image_size": [65, 65]})  # the smallest that works


def test_cnn_architectures(tower_config: Callable[..., dict[str, Any]]) -> None:
    koch = build(tower_config("cnn"))
    assert isinstance(koch.fc[-1], torch.nn.Sigmoid)  # Koch et al.: a sigmoid embedding layer
    out = koch(koch.preprocess([np.zeros((72, 72))]))
    assert ((out > 0) & (out < 1)).all()
    face = build(tower_config("cnn", arch="face", image_size=[32, 32]))
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in face.modules()) == 3
    assert sum(isinstance(m, torch.nn.Linear) for m in face.fc) == 3
    assert build({"name": "cnn", "width": 1.0, "out_dim": 8})._modules["features"][0].out_channels == 64
    conv4 = build({"name": "cnn", "arch": "conv4", "image_size": [28, 28], "out_dim": 0})
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in conv4.modules()) == 4  # Snell et al.: four blocks
    assert conv4.out_dim == 64 and conv4(conv4.preprocess([np.zeros((105, 105))] * 2)).shape == (2, 64)
    assert build({"name": "cnn", "arch": "conv4", "image_size": [28, 28], "out_dim": 16}).out_dim == 16


def test_torchvision_classifier_is_replaced(tower_config: Callable[..., dict[str, Any]]) -> None:
    tower = build(tower_config("torchvision"))
    assert isinstance(tower.backbone.fc, torch.nn.Identity) and tower.feature_dim == 512
    assert tower.proj.in_features == 512 and tower.proj.out_features == 8
    keep = build(tower_config("torchvision", out_dim=0))
    assert keep.out_dim == 512 and isinstance(keep.proj, torch.nn.Identity)


def test_timm_unknown_model_raises(tower_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="unknown timm model 'no_such_net'"):
        build(tower_config("timm", model="no_such_net"))


def test_timm_loads_efficientnet_lite0_weights(
    tower_config: Callable[..., dict[str, Any]], efficientnet_lite0_weights: Path
) -> None:
    random_init = build(tower_config("timm"))
    tower = build(tower_config("timm", weights=str(efficientnet_lite0_weights)))
    tower.load_pretrained()
    expected = load_file(efficientnet_lite0_weights)
    own = tower.backbone.state_dict()
    loaded = [k for k in own if k in expected]
    # every weight and BN statistic is in the file (only the BN step counters are not)
    assert loaded == [k for k in own if not k.endswith("num_batches_tracked")]
    assert len(loaded) > 200
    for key in loaded:
        assert torch.equal(own[key], expected[key]), key
    assert tower.out_dim == 8 and tower.backbone.num_features == 1280
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    tower.eval(), random_init.eval()
    with torch.no_grad():
        assert not torch.allclose(tower.backbone(x), random_init.backbone(x))


def test_timm_stage_pools_mid_level_features_of_the_same_weights(
    tower_config: Callable[..., dict[str, Any]], efficientnet_lite0_weights: Path
) -> None:
    """``stage: 3`` cuts EfficientNet-Lite0 after its stride-16 blocks: the full net's weights, its block-4 output."""
    full = build(tower_config("timm", weights=str(efficientnet_lite0_weights), out_dim=0))
    cut = build(tower_config("timm", weights=str(efficientnet_lite0_weights), out_dim=0, stage=3))
    full.load_pretrained(), cut.load_pretrained()
    full.eval(), cut.eval()
    assert cut.out_dim == 112 and full.out_dim == 1280
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        b = full.backbone
        h = b.bn1(b.conv_stem(x))
        for block in b.blocks[:5]:  # blocks 0-4: strides 2, 4, 8, 16
            h = block(h)
        expected = h.mean((2, 3))  # (B, 112)
        torch.testing.assert_close(cut({"pixel_values": x}), expected)
    with pytest.raises(ConfigError, match="stage: 9 is not a feature stage of timm model 'efficientnet_lite0'"):
        build(tower_config("timm", stage=9))


def test_timm_grid_concatenates_cell_averages_of_the_feature_map(tower_config: Callable[..., dict[str, Any]]) -> None:
    """``grid: 2`` averages each quadrant of the last feature map and concatenates them cell by cell, for a cut
    backbone and for the whole network (whose map is the one timm would pool globally)."""
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    for stage, channels in ((3, 112), (None, 1280)):
        torch.manual_seed(0)
        plain = build(tower_config("timm", out_dim=0, stage=stage))
        torch.manual_seed(0)
        grid = build(tower_config("timm", out_dim=0, stage=stage, grid=2))
        plain.eval(), grid.eval()
        assert grid.out_dim == 4 * channels and plain.out_dim == channels
        with torch.no_grad():
            maps = grid.backbone.forward_features(x) if stage is None else grid.backbone(x)[-1]  # (2, C, h, h)
            h = maps.shape[-1] // 2  # 4 at stride 16, 2 at stride 32
            quadrants = [maps[:, :, i : i + h, j : j + h].mean((2, 3)) for i in (0, h) for j in (0, h)]
            out = grid({"pixel_values": x})  # (2, 4C)
            torch.testing.assert_close(out, torch.cat(quadrants, 1))
            # the four cells average to the global average the grid-1 tower returns
            torch.testing.assert_close(out.view(2, 4, channels).mean(1), plain({"pixel_values": x}))


def test_timm_concat_stages_puts_earlier_pooled_stages_before_the_features(
    tower_config: Callable[..., dict[str, Any]],
) -> None:
    """``concat_stages: [3, 4]`` on the whole EfficientNet-Lite0: the pooled outputs of blocks 0-4 (112) and 0-6
    (320), then the usual 1280 pooled features; on a cut backbone, the earlier stage before the cut one."""
    torch.manual_seed(0)
    tower = build(tower_config("timm", out_dim=0, concat_stages=[3, 4])).eval()
    cut = build(tower_config("timm", out_dim=0, stage=3, concat_stages=[2])).eval()
    cut.backbone.load_state_dict(tower.backbone.state_dict(), strict=False)
    assert tower.out_dim == 112 + 320 + 1280 and cut.out_dim == 40 + 112
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        b, pooled = tower.backbone, []
        h = b.bn1(b.conv_stem(x))
        for j, block in enumerate(b.blocks):
            h = block(h)
            if j in (2, 4, 6):  # the ends of stages 2, 3, 4
                pooled.append(h.mean((2, 3)))
        torch.testing.assert_close(tower({"pixel_values": x}), torch.cat([*pooled[1:], b(x)], 1))
        torch.testing.assert_close(cut({"pixel_values": x}), torch.cat(pooled[:2], 1))
    for bad, message in (
        (dict(concat_stages=[4, 3]), r"concat_stages: expected distinct stages in increasing order, got \[4, 3\]"),
        (dict(stage=3, concat_stages=[3]), r"increasing order below stage 3, got \[3\]"),
        (dict(concat_stages=[7]), r"concat_stages: 7 is not a feature stage of timm model 'efficientnet_lite0'; "
         r"expected 0\.\.4"),
    ):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            build(tower_config("timm", **bad))


def test_timm_concat_stages_keeps_timm_top_features_and_grid_needs_feature_maps(
    tower_config: Callable[..., dict[str, Any]],
) -> None:
    """ConvNeXt normalises after pooling: with ``concat_stages`` its top features are still timm's own. A vision
    transformer has tokens, not maps: ``grid`` is one ConfigError naming the shape."""
    torch.manual_seed(0)
    tower = build(tower_config("timm", model="convnext_atto", out_dim=0, concat_stages=[1])).eval()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(tower({"pixel_values": x})[:, -320:], tower.backbone(x))
    vit = build(tower_config("timm", model="vit_tiny_patch16_224", out_dim=0, grid=2, image_size=[224, 224]))
    with pytest.raises(ConfigError, match=r"grid / concat_stages: timm model 'vit_tiny_patch16_224' gives feature"):
        vit.eval()({"pixel_values": torch.rand(1, 3, 224, 224)})


def test_torchvision_loads_a_local_weights_file(tower_config: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(1)
    source = torchvision.models.resnet18(weights=None)  # with its classifier, as published files are
    pth, st = tmp_path / "resnet18.pth", tmp_path / "resnet18.safetensors"
    torch.save(source.state_dict(), pth)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, st)
    for path in (pth, st):
        tower = build(tower_config("torchvision", weights=str(path)))
        tower.load_pretrained()
        own = tower.backbone.state_dict()
        for key, value in source.state_dict().items():
            if not key.startswith("fc."):
                assert torch.equal(own[key], value), key


def test_weight_file_errors(tower_config: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    tower = build(tower_config("torchvision", weights=str(tmp_path / "missing.pth")))
    with pytest.raises(ModelFileError, match="weights file not found"):
        tower.load_pretrained()
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x01" * 100)
    with pytest.raises(ModelFileError, match="cannot read weights file"):
        read_state_dict(garbage)
    other = tmp_path / "other.safetensors"
    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    tower.config.weights = str(other)
    with pytest.raises(ModelFileError, match="does not fit the backbone: missing keys"):
        tower.load_pretrained()
    wrong = tmp_path / "wrong.pth"
    state = {k: v.clone() for k, v in tower.backbone.state_dict().items()}
    state["conv1.weight"] = torch.zeros(8, 3, 7, 7)
    torch.save({"state_dict": state}, wrong)  # a {"state_dict": ...} checkpoint
    tower.config.weights = str(wrong)
    with pytest.raises(ModelFileError, match=r"shape mismatch at \['conv1.weight'\]"):
        tower.load_pretrained()
    not_a_dict = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], not_a_dict)
    with pytest.raises(ModelFileError, match="holds no state dict"):
        read_state_dict(not_a_dict)


MIRRORED = [
    ("cnn", {}),
    ("torchvision", {}),
    ("timm", {}),
    ("timm", {"stage": 3, "grid": 3}),
    ("timm", {"concat_stages": [2, 3], "grid": 2}),
    ("mlp", {}),
]


@pytest.mark.parametrize(("name", "options"), MIRRORED)
def test_mirror_average_encodes_an_image_and_its_mirror_alike(
    name: str, options: dict[str, Any], tower_config: Callable[..., dict[str, Any]]
) -> None:
    """``mirror_average`` gives every image tower embeddings that do not change under a left-right flip (grids
    too: a cell and its mirror cell are averaged): the average of the trunk features (the net's output for the
    MLP) of the image and of its mirror."""
    plain = build(tower_config(name, **options)).eval()
    mirrored = build(tower_config(name, mirror_average=True, **options)).eval()
    mirrored.load_state_dict(plain.state_dict())
    image = torch.rand(3, 40, 40)
    batch = plain.preprocess([image, image.flip(-1)])
    with torch.no_grad():
        assert not torch.allclose(*plain(batch), atol=1e-4)  # the plain tower tells an image from its mirror
        a, b = mirrored(batch)  # (D,), (D,)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        encode = plain.trunk_features if plain.trunk is not None else plain.net
        both = encode(batch["pixel_values"])  # (2, F)
        expected = both.mean(0, keepdim=True)  # (1, F)
        if plain.trunk is not None:
            expected = plain.forward_rest(expected)
        torch.testing.assert_close(a, expected[0], atol=1e-5, rtol=1e-4)


def test_mirror_average_needs_images_and_no_flip_augmentation(tower_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match=r"mirror_average: needs input 'image'"):
        build({"name": "mlp", "input": "vector", "in_dim": 4, "mirror_average": True})
    flips = {"enabled": True, "hflip": True}
    with pytest.raises(ConfigError, match=r"augment.hflip: a mirror_average tower encodes every image with its mirror"):
        build(tower_config("timm", mirror_average=True, augment=flips))
    build(tower_config("timm", augment=flips))  # either alone is fine


@pytest.mark.parametrize("mirror", [False, True])
def test_timm_inference_in_channels_last_gives_the_same_features(
    tower_config: Callable[..., dict[str, Any]], mirror: bool
) -> None:
    tower = build(tower_config("timm", mirror_average=mirror)).eval()
    assert tower.channels_last
    pixels = torch.randn(3, 3, 64, 64)  # (B, C, H, W), contiguous
    seen: list[bool] = []
    hook = tower.backbone.conv_stem.register_forward_pre_hook(  # the first convolution
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    with torch.no_grad():
        reference = tower.encode_pixels(pixels)  # (B, F): the contiguous path, called directly
        fast = tower.forward_trunk({"pixel_values": pixels})  # (B, F)
    trained = tower.forward_trunk({"pixel_values": pixels})  # with autograd: the input is left as it is
    hook.remove()
    assert seen == [False, True, False]
    assert torch.allclose(fast, reference, atol=1e-5, rtol=1e-4)
    assert torch.allclose(trained, reference, atol=1e-5, rtol=1e-4)
