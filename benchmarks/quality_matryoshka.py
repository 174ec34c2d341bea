"""STS-B test Spearman against embedding size: MiniLM fine-tuned with ``matryoshka`` (CoSENT at 384/256/128/64).

Trains ``recipes/stsb_minilm.yaml`` with its loss wrapped in ``matryoshka`` (dims 384, 256, 128, 64, equal
weights), then scores the STS-B test pairs at each size as ``truncate_dim`` gives them (the saved model's
embeddings cut by ``pairsim.model.truncate``). ``--steps 0`` (the default) trains the recipe's own schedule (2
epochs of 32 pairs, best epoch by validation Spearman); ``--steps N`` a shortened run of N steps of
``--batch-size`` pairs without validation. The untuned MiniLM at the same sizes is the reference row. Figures
are Spearman x 100 and the share of the full-size figure, per seed and as mean +- sample sd over ``--seeds``.

    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/quality_matryoshka.py \\
        --seeds 0 1 2 --json benchmarks/results/quality_matryoshka.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pairsim.data.sources.base import load_dataset  # noqa: E402
from pairsim.model import PairModel, truncate  # noqa: E402
from pairsim.recipe import Recipe  # noqa: E402
from pairsim.train.trainer import Trainer  # noqa: E402

DIMS = (384, 256, 128, 64)
MINILM = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"


def spearman_by_size(model: PairModel, a: list[str], b: list[str], gold: list[float]) -> dict[int, float]:
    """Test Spearman x 100 at each size: the pairs encoded once at full size, then cut as ``truncate_dim`` cuts
    them (:func:`pairsim.model.truncate`, renormalised for the cosine head) and scored by the model's head."""
    ea, eb = model.encode_a(a, batch_size=128), model.encode_b(b, batch_size=128)  # (N, 384) each
    out = {}
    for dim in DIMS:
        ta, tb = (truncate(e, dim, renormalise=model.head.faiss_normalize) for e in (ea, eb))  # (N, dim)
        scores = model.head(ta, tb).detach().numpy()
        out[dim] = 100 * float(spearmanr(scores, np.asarray(gold)).statistic)
    return out


def train_one(seed: int, steps: int, batch_size: int, out: Path) -> PairModel:
    """Train the matryoshka-wrapped STS-B recipe once; ``steps`` 0 keeps the recipe's schedule and validation."""
    overrides = [
        "loss={name: matryoshka, loss: {name: cosent}, dims: [384, 256, 128, 64]}",
        f"train.seed={seed}", "train.validation.at_start=false", "train.checkpoint.keep=false", "eval.plots=false",
        f"output_dir={out}", f"model.tower.model={MINILM}",
    ]  # fmt: skip
    if steps:
        overrides += [
            "train.epochs=1", f"train.schedule.max_steps={steps}", f"train.batch_size={batch_size}",
            "train.validation.every_epoch=false",
        ]  # fmt: skip
    Trainer(Recipe.load(REPO / "recipes" / "stsb_minilm.yaml", overrides), progress=False).run()
    return PairModel.from_pretrained(out / "model")


def rows_of(v: dict[int, float]) -> dict[str, dict[str, float]]:
    """Spearman and share of the full-size figure at each size."""
    return {str(d): {"spearman": round(v[d], 2), "share_of_full": round(v[d] / v[384], 4)} for d in DIMS}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=0, help="0: the recipe's schedule; N: N steps of --batch-size")
    p.add_argument("--batch-size", type=int, default=16, help="with --steps N")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    started = time.time()
    load_start = os.getloadavg()
    test = load_dataset({"name": "stsb", "binarize_at": 4.0}).test
    per_seed, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            t0 = time.time()
            tuned = train_one(seed, args.steps, args.batch_size, Path(tmp) / f"run_s{seed}")
            per_seed[seed] = spearman_by_size(tuned, test.a, test.b, test.scores)
            seconds[seed] = round(time.time() - t0, 1)
            print(f"seed {seed}: {rows_of(per_seed[seed])} ({seconds[seed]} s)", flush=True)
    base = PairModel.from_config({"tower": {"name": "transformer", "model": str(MINILM)}})
    untuned = spearman_by_size(base, test.a, test.b, test.scores)
    shares = {d: np.array([per_seed[s][d] / per_seed[s][384] for s in args.seeds]) for d in DIMS}
    values = {d: np.array([per_seed[s][d] for s in args.seeds]) for d in DIMS}
    sd = lambda x: float(x.std(ddof=1)) if len(x) > 1 else 0.0  # noqa: E731
    summary = {
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1), "load_average_start": load_start,
        "load_average_end": os.getloadavg(), "seeds": args.seeds, "seconds_per_seed": seconds,
        "schedule": "recipe (2 epochs of 32, best epoch by val Spearman)" if not args.steps
        else f"{args.steps} steps of {args.batch_size}, no validation",
        "test_spearman_x100": {
            "matryoshka_mean": {str(d): {"spearman": round(float(values[d].mean()), 2), "sd": round(sd(values[d]), 2),
                                         "share_of_full": round(float(shares[d].mean()), 4),
                                         "share_sd": round(sd(shares[d]), 4)} for d in DIMS},
            "matryoshka_per_seed": {str(s): rows_of(per_seed[s]) for s in args.seeds},
            "untuned_minilm": rows_of(untuned),
        },
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
