"""How the tracker runs its tower on crops: uint8 RGB crops ``(N, S, S, 3)`` in, feature maps ``(N, C, s, s)`` out.

The tracker's tower runs in eval mode on every frame, so its inference network is simplified once, exactly up to
float rounding (about 1e-6 of the feature scale):

- each batch norm is folded into the convolution before it (``torch.nn.utils.fusion.fuse_conv_bn_eval``);
- the input normalisation (``/ 255``, ImageNet mean and std) is folded into the first convolution, which is exact
  because SiamFC's AlexNet has no padding;
- a ReLU before a max-pool moves after it (``max`` commutes with the monotone ReLU), so it touches 4x fewer values;
- the network takes the crops as they come (uint8, channels last), so no copy or division happens outside it.

Runtimes by short name (``RUNTIMES.get("torch")``): ``torch`` runs that network eagerly in PyTorch, ``onnx``
exports it once in memory and runs it with onnxruntime (``pip install 'pairsim[onnx]'``), which on 2 CPU cores is
faster for these small convolutions; ``unfused`` runs the backbone as trained (the reference the others are
checked against, and the speed benchmark's "before"). Other backbones (``timm``) run unfused behind the same uint8
input.
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from pairsim.errors import ConfigError
from pairsim.registry import Registry
from pairsim.track.backbones import AlexNetBackbone, Backbone

RUNTIMES: Registry[type[Any]] = Registry("tracking runtime")


class PixelNet(nn.Module):
    """A backbone behind uint8 input: ``(N, S, S, 3)`` uint8 RGB -> ``(N, C, s, s)`` float feature maps.

    Args:
        layers: The network on ``(N, 3, S, S)`` float pixels in ``[0, 255]`` (normalisation included).

    Example:
        >>> from pairsim.track.backbones import AlexNetConfig
        >>> net = inference_network(AlexNetBackbone(AlexNetConfig(name="alexnet", width=0.25)).eval())
        >>> net(torch.zeros(2, 127, 127, 3, dtype=torch.uint8)).shape
        torch.Size([2, 64, 6, 6])
    """

    def __init__(self, layers: nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.layers(crops.permute(0, 3, 1, 2).float())  # (N, S, S, 3) uint8 -> (N, C, s, s)


class _Scaled(nn.Module):
    """An unfused backbone on ``[0, 255]`` pixels (it normalises ``[0, 1]`` input itself)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images / 255.0)  # (N, 3, S, S) -> (N, C, s, s)


def fold_input_scaling(conv: nn.Conv2d, mean: torch.Tensor, std: torch.Tensor) -> nn.Conv2d:
    """The convolution that maps ``[0, 255]`` pixels as ``conv`` maps ``(pixels / 255 - mean) / std``.

    ``conv((x / 255 - m) / s) = conv'(x)`` with ``W' = W / (255 s)`` and ``b' = b - sum W m / s`` (exact for an
    unpadded convolution: every tap sees a pixel, none sees padding).
    """
    if conv.padding != (0, 0) or conv.groups != 1:
        raise ValueError("fold_input_scaling: expected an unpadded, ungrouped first convolution")
    w = conv.weight.detach()  # (O, 3, k, k)
    b = conv.bias.detach() if conv.bias is not None else torch.zeros(w.shape[0])  # (O,)
    folded = copy.deepcopy(conv)
    folded.weight = nn.Parameter(w / (255.0 * std.view(1, -1, 1, 1)))
    folded.bias = nn.Parameter(b - (w * (mean / std).view(1, -1, 1, 1)).sum((1, 2, 3)))
    return folded


def inference_network(backbone: Backbone) -> PixelNet:
    """The eval-mode network of ``backbone`` on uint8 crops (simplified as the module docstring says for
    ``alexnet``; any other backbone unchanged behind a ``/ 255``).

    Args:
        backbone: A backbone in eval mode (its batch-norm statistics are what gets folded).

    Returns:
        A :class:`PixelNet` (a new module; ``backbone`` is not changed).
    """
    if not isinstance(backbone, AlexNetBackbone):
        return PixelNet(_Scaled(backbone)).eval()
    if backbone.training:
        raise ValueError("inference_network: expected a backbone in eval mode (its batch norms are folded)")
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    layers: list[nn.Module] = []
    for module in backbone.features:
        if isinstance(module, nn.BatchNorm2d):
            layers[-1] = fuse_conv_bn_eval(layers[-1], module)  # type: ignore[arg-type]
        elif isinstance(module, nn.MaxPool2d) and isinstance(layers[-1], nn.ReLU):
            layers[-1:] = [module, nn.ReLU(inplace=True)]  # relu(maxpool(x)) == maxpool(relu(x))
        else:
            layers.append(copy.deepcopy(module) if isinstance(module, nn.Conv2d) else module)
    layers[0] = fold_input_scaling(layers[0], backbone.mean.view(-1), backbone.std.view(-1))  # type: ignore[arg-type]
    return PixelNet(nn.Sequential(*layers)).eval()


@RUNTIMES.register("unfused")
class UnfusedRuntime:
    """The backbone as trained, on ``[0, 1]`` input (``SiamFC.to_tensor``): nothing folded.

    Args:
        backbone: The model's backbone (eval mode).
        threads: Unused (PyTorch's own count applies).
    """

    name: ClassVar[str] = "unfused"

    def __init__(self, backbone: Backbone, threads: int | None = None) -> None:
        self.backbone = backbone

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> torch.Tensor:
        """``(N, S, S, 3)`` uint8 -> ``(N, C, s, s)`` float32 feature maps."""
        images = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)
        return self.backbone(images)  # (N, 3, S, S) -> (N, C, s, s)


@RUNTIMES.register("torch")
class TorchRuntime:
    """The inference network in eager PyTorch (the caller's thread count applies).

    Args:
        backbone: The model's backbone (eval mode).
        threads: Unused (PyTorch's own count, or the CLI's ``--threads`` scope, applies).
    """

    name: ClassVar[str] = "torch"

    def __init__(self, backbone: Backbone, threads: int | None = None) -> None:
        self.net = inference_network(backbone)

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> torch.Tensor:
        """``(N, S, S, 3)`` uint8 -> ``(N, C, s, s)`` float32 feature maps."""
        return self.net(torch.from_numpy(np.ascontiguousarray(crops)))


@RUNTIMES.register("onnx")
class OnnxRuntime:
    """The inference network exported once (in memory) and run with onnxruntime's CPU provider.

    Args:
        backbone: The model's backbone (eval mode).
        threads: onnxruntime's intra-op threads (None: its default, one per core).

    Raises:
        ConfigError: onnxruntime (or onnx export support) is not installed.
    """

    name: ClassVar[str] = "onnx"

    def __init__(self, backbone: Backbone, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("--backend onnx needs onnxruntime: pip install 'pairsim[onnx]'") from None
        net = inference_network(backbone)
        side = 127  # any size: both spatial axes are dynamic
        sample = torch.zeros(1, side, side, 3, dtype=torch.uint8)
        buffer = io.BytesIO()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(
                net, (sample,), buffer, input_names=["crops"], output_names=["features"],
                dynamic_axes={"crops": {0: "n", 1: "h", 2: "w"}, "features": {0: "n", 2: "fh", 3: "fw"}},
                dynamo=False,  # the TorchScript exporter: a second, no onnxscript needed (as pairsim export)
            )  # fmt: skip
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, crops: np.ndarray) -> torch.Tensor:
        """``(N, S, S, 3)`` uint8 -> ``(N, C, s, s)`` float32 feature maps."""
        out = self.session.run(None, {"crops": np.ascontiguousarray(crops, dtype=np.uint8)})[0]
        return torch.from_numpy(out)
