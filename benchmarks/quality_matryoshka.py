"""STS-B test Spearman against embedding size: MiniLM fine-tuned with ``matryoshka`` (CoSENT at 384/256/128/64).

Trains ``recipes/stsb_minilm.yaml`` with its loss wrapped in ``matryoshka`` (dims 384, 256, 128, 64, equal
weights) for ``--steps`` steps (default: a part of one epoch, for 2 shared CPU cores), then scores the STS-B test
pairs at each size as ``truncate_dim`` gives them (the saved model's embeddings cut by ``pairsim.model.truncate``). The untuned MiniLM at
the same sizes is the reference row. Figures are Spearman x 100 and the share of the full-size figure.

    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=2 nice -n 5 python benchmarks/quality_matryoshka.py \\
        --steps 150 --json benchmarks/results/quality_matryoshka.json
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=150, help="training steps (batch 16)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    started = time.time()
    recipe_path = REPO / "recipes" / "stsb_minilm.yaml"
    test = load_dataset({"name": "stsb", "binarize_at": 4.0}).test
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Recipe.load(recipe_path, [
            "loss={name: matryoshka, loss: {name: cosent}, dims: [384, 256, 128, 64]}",
            "train.epochs=1", f"train.schedule.max_steps={args.steps}", f"train.batch_size={args.batch_size}",
            f"train.seed={args.seed}", "train.validation.at_start=false", "train.validation.every_epoch=false", "eval.plots=false", f"output_dir={tmp}/run",
            f"model.tower.model={MINILM}",
        ])  # fmt: skip
        Trainer(recipe, progress=False).run()
        tuned = PairModel.from_pretrained(Path(tmp) / "run" / "model")
        trained = spearman_by_size(tuned, test.a, test.b, test.scores)
    base = PairModel.from_config({"tower": {"name": "transformer", "model": str(MINILM)}})
    untuned = spearman_by_size(base, test.a, test.b, test.scores)
    rows = {
        name: {str(d): {"spearman": round(v[d], 2), "share_of_full": round(v[d] / v[384], 4)} for d in DIMS}
        for name, v in (("matryoshka", trained), ("untuned_minilm", untuned))
    }
    summary = {
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1), "load_average": os.getloadavg(), "seed": args.seed,
        "steps": args.steps, "batch_size": args.batch_size, "note": "one seed; a part of one epoch (CPU budget)",
        "test_spearman_x100": rows,
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
