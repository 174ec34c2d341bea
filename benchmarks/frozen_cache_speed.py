"""Training-step time with and without ``train.speed.cache_frozen`` on a recipe whose image backbone is locked.

The Flickr8k LiT recipe (``recipes/flickr8k_caption_image.yaml``: EfficientNet-Lite0 backbone frozen, MiniLM
text tower tuned) and the AT&T faces recipe (EfficientNet-Lite0 stage 3 frozen, projection trained) train
``--steps`` steps each way in the same process; the figures are the one-off cost of encoding the frozen part
(cache on) and the median seconds per step after the first. The trained weights of both ways agree (see
tests/train/test_frozen_cache.py), so only the time differs.

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/frozen_cache_speed.py --steps 8 --json benchmarks/results/frozen_cache.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from quality_common import REPO, load

from pairsim.recipe import Recipe
from pairsim.train.distributed import setup
from pairsim.train.step import to_device
from pairsim.train.trainer import Trainer

RECIPES = {
    "flickr8k_caption_image": [],
    "att_faces_efficientnet": ["data.test_count=8", "data.val_count=8"],
}


def measure(recipe: str, overrides: list[str], cache: bool, steps: int, out: Path) -> dict[str, Any]:
    """Build the run (timing the build, which includes the one-off encoding when cached), then time steps."""
    r = Recipe.load(REPO / f"recipes/{recipe}.yaml", [*overrides, f"train.speed.cache_frozen={str(cache).lower()}",
                                                       f"output_dir={out}"])  # fmt: skip
    trainer = Trainer(r, progress=False, overwrite=True)
    t0 = time.perf_counter()
    trainer._build(setup("cpu"))  # the trainer's own set-up: data, model, optimiser, frozen-part cache
    build = time.perf_counter() - t0
    times = []
    trainer.step_module.train()
    for i, batch in enumerate(trainer.batches.epoch(0, limit=steps)):
        t = time.perf_counter()
        loss = trainer.step_module(to_device(batch, trainer.model.device))
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
        if i:  # the first step warms caches and allocators
            times.append(time.perf_counter() - t)
    return {"build_s": round(build, 1), "step_s_median": round(statistics.median(times), 3), "steps_timed": len(times)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--out-root", default="runs/bench/frozen_cache")
    args = p.parse_args()
    results: dict[str, Any] = {"load_start": load(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    for recipe, overrides in RECIPES.items():
        for cache in (False, True):
            got = measure(recipe, overrides, cache, args.steps, Path(args.out_root) / f"{recipe}_{cache}")
            results[f"{recipe}/cache_{str(cache).lower()}"] = got
            print(f"{recipe} train.speed.cache_frozen={cache}: {got}", flush=True)
    results["load_end"] = load()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
