"""Tuning SiamFC's search settings (window influence, scale step / penalty / damping, upsampling) on VALIDATION
sequences only (issue 26).

The validation sequences are made from the training images (``held_out=False``) with seeds of their own
(``--seed``, default 7000): neither the test's images (the held-out tenth) nor its seeds (1000 on) are used, so
``benchmarks/tracking.py`` stays a clean test of the settings chosen here. Score: mean success AUC + mean
precision@20 over the sequences. Search: coordinate ascent from the model's saved settings, one setting at a time
over a few values, ``--passes`` times (the first value of ties kept: the current one).

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/tracking_tune.py --model runs/siamfc/model

Writes ``benchmarks/results/tracking_tune.json`` (every trial, the best settings, and the default's score).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pairsim.track.model import SiamFC, TrackerSettings
from pairsim.track.otb import mean_scores, otb_scores
from pairsim.track.synthetic import load_images, make_sequence
from pairsim.track.tracker import Tracker

GRID: dict[str, list[Any]] = {
    "window_influence": [0.1, 0.176, 0.25, 0.35, 0.45],
    "scale_step": [1.02, 1.0375, 1.06, 1.09],
    "scale_penalty": [0.94, 0.9745, 0.99],
    "scale_lr": [0.3, 0.45, 0.59, 0.75],
    "upsample": [8, 16, 24],
}


def evaluate(model: SiamFC, settings: TrackerSettings, sequences: list[Any], backend: str) -> dict[str, float]:
    """Mean OTB scores of ``settings`` over the validation sequences (and their sum, the tuning score)."""
    tracker = Tracker(model, backend=backend, settings=settings)
    rows = []
    for frames, truth in sequences:
        rows.append(otb_scores(np.array(list(tracker.track(frames, tuple(truth[0])))), truth))
    scores = mean_scores(rows)
    return {**scores, "score": scores["success_auc"] + scores["precision_20"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained SiamFC model directory")
    p.add_argument("--sequences", type=int, default=8, help="validation sequences")
    p.add_argument("--frames", type=int, default=60, help="frames per validation sequence")
    p.add_argument("--seed", type=int, default=7000, help="seed of the first validation sequence")
    p.add_argument("--passes", type=int, default=1, help="rounds of coordinate ascent")
    p.add_argument("--backend", default="onnx", help="runtime (the boxes do not depend on it)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/tracking_tune.json")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    data = Path(os.environ.get("PAIRSIM_DATA_DIR", "../shared/data"))
    t0, load0 = time.time(), os.getloadavg()[0]
    model = SiamFC.from_pretrained(args.model)
    images = load_images(str(data / "flickr8k" / "images"), held_out=False)  # training images: not the test's
    sequences = []
    for i in range(args.sequences):
        seq = make_sequence(images, seed=args.seed + i, frames=args.frames)
        sequences.append((seq.frames(), seq.boxes))
    best = model.config.tracker
    best_scores = evaluate(model, best, sequences, args.backend)
    trials = [{"settings": dataclasses.asdict(best), **best_scores}]
    print(f"default: {best_scores}", flush=True)
    for _ in range(args.passes):
        for name, values in GRID.items():
            for value in values:
                if getattr(best, name) == value:
                    continue
                candidate = dataclasses.replace(best, **{name: value})
                scores = evaluate(model, candidate, sequences, args.backend)
                trials.append({"settings": dataclasses.asdict(candidate), **scores})
                print(f"{name}={value}: score {scores['score']:.4f} (best {best_scores['score']:.4f})", flush=True)
                if scores["score"] > best_scores["score"]:
                    best, best_scores = candidate, scores
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python benchmarks/tracking_tune.py " + " ".join(sys.argv[1:]),
        "model": str(args.model),
        "minutes": round((time.time() - t0) / 60, 1),
        "load": f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({args.threads} threads)",
        "validation": {
            "images": "training images (held_out=False)",
            "sequences": args.sequences,
            "frames": args.frames,
            "first_seed": args.seed,
        },
        "default": trials[0],
        "best": {"settings": dataclasses.asdict(best), **best_scores},
        "trials": trials,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("default", "best", "minutes", "load")}, indent=1))


if __name__ == "__main__":
    main()
