"""CPU speed levers on one training step: channels-last memory format and ``torch.compile``, against the default.

Times the forward + backward of two image towers as the recipes build them, on random inputs of the recipes'
shapes: the Omniglot prototypical Conv-4 (one 60-way 1-shot 5-query episode: 360 images of 28x28) and the
AT&T faces EfficientNet-Lite0 cut at stage 3 (a P x K batch of 32 faces at 224x224, backbone trainable here).
Each variant runs ``--repeats`` timed steps after two warm-up steps (``torch.compile``'s compilation falls in
the warm-up and is reported on its own); the figure is the median.

    python benchmarks/cpu_levers.py --threads 1 --repeats 5 --json benchmarks/results/cpu_levers.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from quality_common import load

from pairsim.config import from_dict
from pairsim.towers import TOWERS, Tower, TowerConfig

MODELS: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "omniglot conv4 (360 x 1 x 28 x 28)": (
        {"name": "cnn", "arch": "conv4", "image_size": [28, 28], "channels": 1, "mean": [0.0], "std": [1.0],
         "out_dim": 0},
        (360, 1, 28, 28),
    ),
    "faces efficientnet_lite0 stage 3 (32 x 3 x 224 x 224)": (
        {"name": "timm", "model": "efficientnet_lite0", "image_size": [224, 224], "stage": 3, "out_dim": 128},
        (32, 3, 224, 224),
    ),
}  # fmt: skip


def step_time(
    tower: Tower, x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor], repeats: int
) -> tuple[float, float]:
    """(seconds of the two warm-up steps, median seconds of a timed step) of forward + backward."""

    def step() -> None:
        tower.zero_grad(set_to_none=True)
        forward(x).pow(2).mean().backward()

    t0 = time.perf_counter()
    step(), step()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return warm, statistics.median(times)


def runner(tower: Tower) -> Callable[[torch.Tensor], torch.Tensor]:
    """Pixels ``(B, C, H, W)`` -> the tower's embeddings, bound to this tower."""
    return lambda pixels: tower({"pixel_values": pixels})


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"load_start": load(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                           "threads": args.threads, "torch": torch.__version__}  # fmt: skip
    for name, (config, shape) in MODELS.items():
        torch.manual_seed(0)
        tower = TOWERS.get(config["name"])(from_dict(TowerConfig, config, where="tower")).train()
        x = torch.randn(*shape)
        rows: dict[str, Any] = {}
        rows["default"] = step_time(tower, x, runner(tower), args.repeats)
        tower_cl = tower.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        rows["channels_last"] = step_time(tower_cl, x_cl, runner(tower_cl), args.repeats)
        tower = tower.to(memory_format=torch.contiguous_format)
        try:
            compiled = torch.compile(runner(tower))
            rows["torch.compile"] = step_time(tower, x, compiled, args.repeats)
        except Exception as err:
            rows["torch.compile"] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
        base = rows["default"][1]
        for variant, got in rows.items():
            if isinstance(got, tuple):
                print(
                    f"{name} {variant}: warm-up {got[0]:.2f} s, step {got[1]:.3f} s ({base / got[1]:.2f}x)", flush=True
                )
            else:
                print(f"{name} {variant}: {got}", flush=True)
        out[name] = {k: ({"warmup_s": round(v[0], 2), "step_s": round(v[1], 4), "speedup": round(base / v[1], 2)}
                         if isinstance(v, tuple) else v) for k, v in rows.items()}  # fmt: skip
    out["load_end"] = load()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
