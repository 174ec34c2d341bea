"""Training and encoding speed of pairsim against sentence-transformers' default loop, same model and data.

Model all-MiniLM-L6-v2, data the STS-B training pairs, the same loss on both sides (``--loss cosent``: pairsim
``cosent`` and sentence-transformers ``CoSENTLoss``, scale 20 both; or ``contrastive``), the same batch size.

* **train**: one *slice* of ``--rows`` training pairs drawn at random (seeded), trained through once by each
  side in steps of ``--batch`` pairs, the sides' steps alternating (A B C D, B C D A, ...) so the machine's
  load falls on all alike. Each side's pairs/s is the slice's pairs over the sum of its step times.

  - ``pairsim``: what ``pairsim train`` does with ``sampler: {name: pairs, group_by_length: true}``: the
    slice's texts tokenised once (timed, added to pairsim's total), batches from
    :class:`~pairsim.data.pipeline.Batches` (length-grouped: the slice is one megabatch), the tower's
    padding to the batch's longest text, :class:`~pairsim.train.step.TrainStep`, AdamW fused where the
    trainer fuses it (:func:`pairsim.train.optim.fusable`), clipping at 1.0.
  - ``sentence-transformers``: its trainer's **defaults**, the loop written out (its ``SentenceTransformerTrainer``
    needs ``accelerate``, not installed here): batches from a ``RandomSampler`` order (``BatchSamplers.BATCH_SAMPLER``),
    each batch's two columns tokenised by ``model.preprocess`` in the step (its data collator, no workers),
    loss, backward, clipping at 1.0 (``max_grad_norm``), ``adamw_torch_fused`` (the Hugging Face default
    optimizer for torch >= 2.8).
  - ``pairsim, random batches``: pairsim with the default ``pairs`` sampler (the slice in random batches):
    what length grouping adds, and what the rest does.
  - ``sentence-transformers, grouped batches``: sentence-transformers' loop fed pairsim's length-grouped batches.
    Its trainer has no length grouping of its own (``BatchSamplers`` has none, and the Hugging Face
    ``train_sampling_strategy="group_by_length"`` is not read: ``SentenceTransformerTrainer.get_batch_sampler``
    builds every batch sampler itself), so this is what it would gain from one.

* **encode**: texts/s of ``PairModel.encode_a`` and ``SentenceTransformer.encode`` on the same distinct STS-B
  sentences, same batch size, alternating runs; best and median of each, and the median of paired ratios.

Every figure is taken per thread count (``--threads 1 2``). Run from the repository root (about 5 minutes on
2 idle cores)::

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/train_speed.py --json benchmarks/results/train_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import DEFAULT_MODEL, distinct_sentences, load, stsb, summary

ST, PS = "sentence-transformers", "pairsim"
PS_RANDOM, ST_GROUPED = "pairsim, random batches", "sentence-transformers, grouped batches"


def losses_for(name: str, model: Any, st: Any) -> tuple[Any, Any]:
    """pairsim's and sentence-transformers' versions of the same loss."""
    from sentence_transformers import losses

    from pairsim.losses import LOSSES

    cls = LOSSES.get(name)
    if name == "cosent":
        return cls(cls.Config(name="cosent", scale=20.0), head=model.head), losses.CoSENTLoss(st, scale=20.0)
    ours = cls(cls.Config(name="contrastive", margin=0.5), head=model.head)  # ST margin on distance: 1 - 0.5
    return ours, losses.ContrastiveLoss(st, distance_metric=losses.SiameseDistanceMetric.COSINE_DISTANCE, margin=0.5)


def train_slice(args: argparse.Namespace, splits: Any) -> dict[str, Any]:
    """One slice of training pairs through each side once, steps alternating; see the module docstring."""
    from sentence_transformers import SentenceTransformer

    from pairsim import PairModel
    from pairsim.data import Batches
    from pairsim.data.samplers import PairsConfig
    from pairsim.train.optim import fusable
    from pairsim.train.step import TrainStep

    pick = np.random.default_rng(args.seed).permutation(len(splits.train))
    table = splits.train.subset(pick[: args.rows].tolist())
    warm_table = splits.train.subset(pick[args.rows : args.rows + args.batch * args.warmup].tolist())
    torch.manual_seed(args.seed)
    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}})
    st = SentenceTransformer(str(args.model), device="cpu", trust_remote_code=False)
    loss, st_loss = losses_for(args.loss, model, st)
    step_module = TrainStep(model, loss)
    towers = (model.tower_a, model.side_b)
    groups = [{"params": [p for p in step_module.parameters() if p.requires_grad]}]
    opt_ours = torch.optim.AdamW(groups, lr=5e-5, fused=fusable(groups) or None)
    opt_st = torch.optim.AdamW(st.parameters(), lr=5e-5, fused=True)  # adamw_torch_fused

    t0 = time.perf_counter()
    megabatch = max(1, args.rows // args.batch)  # the slice is one megabatch: as one of an epoch's
    grouped = Batches(table, loss.consumes, towers, PairsConfig(group_by_length=True, megabatch=megabatch),
                      batch_size=args.batch, seed=args.seed)  # fmt: skip
    tokenize_s = time.perf_counter() - t0  # the slice's texts tokenised once (cached by the tower)
    plain = Batches(table, loss.consumes, towers, PairsConfig(), batch_size=args.batch, seed=args.seed)
    warm = Batches(warm_table, loss.consumes, towers, PairsConfig(), batch_size=args.batch, seed=args.seed)
    labels = np.asarray(table.scores if args.loss == "cosent" and table.scores is not None else table.labels)
    gen = torch.Generator().manual_seed(args.seed)  # RandomSampler, as the trainer's default batch sampler
    st_order = torch.randperm(len(table), generator=gen).tolist()
    st_rows = [st_order[i : i + args.batch] for i in range(0, len(table) - args.batch + 1, args.batch)]
    grouped_rows = [rows.index[:, 0].tolist() for rows in grouped.rows(0)]

    def st_batch(idx: list[int], source: Any = table, y: np.ndarray = labels) -> tuple[list[Any], torch.Tensor]:
        features = [st.preprocess([source.a[i] for i in idx]), st.preprocess([source.b[i] for i in idx])]
        return features, torch.tensor(y[idx], dtype=torch.float32)

    def ours(batches: Any) -> Callable[[], None]:
        it = iter(batches)

        def step() -> None:
            value = step_module(next(it))
            opt_ours.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(step_module.parameters(), 1.0)
            opt_ours.step()

        return step

    def theirs(order: list[list[int]], source: Any = table, y: np.ndarray = labels) -> Callable[[], None]:
        it = iter(order)

        def step() -> None:
            features, target = st_batch(next(it), source, y)
            value = st_loss(features, target)
            opt_st.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(st.parameters(), 1.0)
            opt_st.step()

        return step

    # the same function: with dropout off both losses of one batch agree
    model.eval()
    st.eval()
    with torch.no_grad():
        first = next(iter(plain.epoch(0)))
        check = (float(step_module(first)), float(st_loss(*st_batch(plain.rows(0)[0].index[:, 0].tolist()))))
    model.train()
    st.train()
    warm_y = np.asarray(
        warm_table.scores if args.loss == "cosent" and warm_table.scores is not None else warm_table.labels
    )
    warm_rows = [list(range(i, i + args.batch)) for i in range(0, len(warm_table) - args.batch + 1, args.batch)]
    for fn in (ours(warm.epoch(0)), theirs(warm_rows, warm_table, warm_y)):  # warm-up, not timed
        for _ in range(min(args.warmup, len(warm_rows))):
            fn()

    sides = {PS: ours(grouped.epoch(0)), ST: theirs(st_rows), PS_RANDOM: ours(plain.epoch(0)),
             ST_GROUPED: theirs(grouped_rows)}  # fmt: skip
    if not args.controls:
        sides = {k: sides[k] for k in (PS, ST)}
    steps = min(len(grouped_rows), len(st_rows), plain.steps_per_epoch)
    times: dict[str, list[float]] = {k: [] for k in sides}
    names = list(sides)
    for i in range(steps):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # rotate who goes first
            t0 = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - t0)
    pairs = steps * args.batch
    total = {k: sum(v) + (tokenize_s if k == PS else 0.0) for k, v in times.items()}
    padded = {
        "random": sum(int(x["input_ids"].numel()) for b in list(plain.epoch(0))[:steps] for x in b[:2]),
        "grouped": sum(int(x["input_ids"].numel()) for b in list(grouped.epoch(0))[:steps] for x in b[:2]),
    }
    row = {
        "threads": torch.get_num_threads(), "loss": args.loss, "batch_size": args.batch, "pairs": pairs,
        "steps_each": steps, "warmup_steps": args.warmup, "pairsim_tokenize_s": tokenize_s,
        "pairs_per_s": {k: pairs / v for k, v in total.items()},
        "ratio_pairsim_over_st": total[ST] / total[PS],
        "first_batch_loss": {"pairsim": check[0], "st": check[1]},
        "padded_tokens": padded, "step_times_s": times, "load": load(),
    }  # fmt: skip
    if args.controls:
        row["ratio_pairsim_over_st_grouped"] = total[ST_GROUPED] / total[PS]
        row["ratio_pairsim_random_over_st"] = total[ST] / total[PS_RANDOM]
    rates = ", ".join(f"{k} {v:.1f}" for k, v in row["pairs_per_s"].items())
    print(
        f"train threads={row['threads']} {args.loss} batch {args.batch}, {pairs} pairs each: pairs/s {rates}; "
        f"pairsim / ST {row['ratio_pairsim_over_st']:.3f}; padded tokens random {padded['random']} vs grouped "
        f"{padded['grouped']}; first-batch loss {check[0]:.5f} vs {check[1]:.5f}; {row['load']}",
        flush=True,
    )
    return row


def encode(args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    """``PairModel.encode_a`` vs ``SentenceTransformer.encode``, alternating runs."""
    from sentence_transformers import SentenceTransformer

    from pairsim import PairModel

    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}}).eval()
    st = SentenceTransformer(str(args.model), device="cpu", trust_remote_code=False).eval()
    diff = float(
        (model.encode_a(texts[:256], batch_size=64) - st.encode(texts[:256], convert_to_tensor=True)).abs().max()
    )
    runs = {
        PS: lambda: model.encode_a(texts, batch_size=args.encode_batch),
        ST: lambda: st.encode(texts, batch_size=args.encode_batch, show_progress_bar=False),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rep in range(args.repeats):
        for name in list(runs) if rep % 2 == 0 else list(runs)[::-1]:
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    row = {"threads": torch.get_num_threads(), "batch_size": args.encode_batch, "texts": len(texts),
           "repeats": args.repeats, **summary(times, len(texts), "texts_per_s"), "max_abs_embedding_diff": diff,
           "times_s": times, "load": load()}  # fmt: skip
    print(
        f"encode threads={row['threads']} batch {args.encode_batch}, {len(texts)} texts: best pairsim "
        f"{row['pairsim_texts_per_s_best']:.1f} / ST {row['st_texts_per_s_best']:.1f} texts/s (ratio "
        f"{row['ratio_best']:.3f}), paired-ratio median {row['ratio_paired_median']:.3f}; max |diff| {diff:.1e}; "
        f"{row['load']}",
        flush=True,
    )
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--data-dir", default=os.environ.get("PAIRSIM_DATA_DIR"))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--only", nargs="+", choices=["train", "encode"], default=["train", "encode"])
    p.add_argument("--loss", choices=["cosent", "contrastive"], default="cosent")
    p.add_argument("--batch", type=int, default=32, help="training pairs per step")
    p.add_argument("--rows", type=int, default=1600, help="training pairs in the slice each side trains through")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per side first (on other pairs)")
    p.add_argument("--no-controls", dest="controls", action="store_false",
                   help="only pairsim (grouped) and sentence-transformers (default), not the two control sides")  # fmt: skip
    p.add_argument("--n-texts", type=int, default=1000, help="encode: distinct STS-B sentences")
    p.add_argument("--encode-batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5, help="encode runs per side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write every figure here")
    args = p.parse_args()

    import sentence_transformers
    import transformers

    env = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__,
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "load_at_start": load(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }  # fmt: skip
    print(json.dumps(env), flush=True)
    splits = stsb(args.data_dir)
    results: dict[str, Any] = {"env": env, "train": [], "encode": []}
    t0 = time.perf_counter()
    for threads in args.threads:
        torch.set_num_threads(threads)
        if "train" in args.only:
            results["train"].append(train_slice(args, splits))
        if "encode" in args.only:
            results["encode"].append(encode(args, distinct_sentences(splits)[: args.n_texts]))
    env["load_at_end"], env["wall_s"] = load(), time.perf_counter() - t0
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
