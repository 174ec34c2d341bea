"""A/B of EfficientNet-Lite0's trunk: PyTorch eager layouts (NCHW, channels-last input or module, BatchNorm folded)
against onnxruntime fp32, in one process, alternating (RESULTS.md, issue 27's ONNX speed slice).

Usage: ``python benchmarks/image_layout_ab.py REPEATS BATCH [--profile]`` (needs ../shared's weights).
"""

import copy
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from pairsim import PairModel
from pairsim.export.onnx import export_onnx
from pairsim.export.onnx_runtime import OnnxPairModel

torch.set_num_threads(2)
LITE0 = str(Path(__file__).resolve().parents[2] / "shared" / "models" / "efficientnet_lite0" / "model.safetensors")
m = PairModel.from_config(
    {"tower": {"name": "timm", "model": "efficientnet_lite0", "weights": LITE0, "out_dim": 0}}
).eval()
tower = m.tower_a
B = int(sys.argv[2]) if len(sys.argv) > 2 else 16
x = torch.randn(B, 3, 224, 224)


def fold(module: nn.Module) -> int:
    """conv followed (in child order) by BN: fold BN into conv; BN -> identity (BNAct -> drop+act)."""
    n = 0
    kids = list(module.named_children())
    for (na, a), (nb, b) in itertools.pairwise(kids):
        if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
            fused = torch.nn.utils.fusion.fuse_conv_bn_eval(a, b)
            setattr(module, na, fused)
            rest = nn.Sequential(getattr(b, "drop", nn.Identity()), getattr(b, "act", nn.Identity()))
            setattr(module, nb, rest if type(b) is not nn.BatchNorm2d else nn.Identity())
            n += 1
    for _, c in module.named_children():
        n += fold(c)
    return n


folded = copy.deepcopy(tower)
print("folded", fold(folded))
cl = copy.deepcopy(tower).to(memory_format=torch.channels_last)
fcl = copy.deepcopy(folded).to(memory_format=torch.channels_last)
xcl = x.contiguous(memory_format=torch.channels_last)
d = tempfile.mkdtemp()
export_onnx(m, d + "/o")
ort_m = OnnxPairModel.load(d + "/o", threads=2)


def run(mod, inp):
    with torch.inference_mode():
        return mod.trunk_features(inp)


ref = run(tower, x)
variants = {
    "eager nchw": lambda: run(tower, x),
    "eager input cl": lambda: run(tower, xcl),
    "eager cl": lambda: run(cl, xcl),
    "folded nchw": lambda: run(folded, x),
    "folded cl": lambda: run(fcl, xcl),
    "onnx fp32": lambda: ort_m.tower_a({"pixel_values": x}),
}
for k, f in variants.items():
    print(k, "maxdiff", float((f() - ref).abs().max()), flush=True)
times = {k: [] for k in variants}
for rep in range(int(sys.argv[1])):
    for k in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
        t0 = time.perf_counter()
        variants[k]()
        times[k].append(time.perf_counter() - t0)
for k, v in times.items():
    print(f"{k:16s} best {B / min(v):7.1f} median {B / statistics.median(v):7.1f} img/s")
print("load", os.getloadavg())
if "--profile" in sys.argv:
    from torch.profiler import profile

    for name, mod, inp in (("nchw", tower, x), ("cl", cl, xcl)):
        with profile() as p:
            run(mod, inp)
        print(name)
        print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
