"""Speed of pairsim against sentence-transformers on the same model (all-MiniLM-L6-v2), side by side.

Three measurements (``--only encode train score`` picks some; all by default):

* **encode**: texts/s of ``PairModel.encode_a`` (pairsim's transformer tower) and of
  ``SentenceTransformer.encode`` on the same distinct STS-B sentences, per batch size and device. The two
  run alternately (A B, B A, ...) in one process. On a shared machine other processes slow single runs
  down by up to 5x, so two figures are kept: the **best** run of each side (the least disturbed, as
  ``timeit`` advises) and the **median**; the ratio pairsim / sentence-transformers is given from the best
  runs and as the median of the per-repeat paired ratios (each pair run back to back).
* **train**: training pairs/s of pairsim's ``TrainStep`` (tied MiniLM, cosine head, ``contrastive`` loss)
  and of sentence-transformers' ``losses.ContrastiveLoss`` (cosine distance) on the same STS-B pairs, in
  the same order, same batch size, AdamW, gradient clipping at 1.0. The two losses are the same function
  (pairsim's score margin m equals sentence-transformers' distance margin 1 - m; checked on the first batch).
  Steady state: warm-up steps first, then single steps alternating A B, B A, ...; best and median step
  times, and the median of the paired per-step ratios.
* **score**: ``pairsim score a.txt b.txt`` as a subprocess on 1k / 10k / 100k line pairs drawn from a pool
  of ~500 distinct sentences: wall time and peak RSS of the child (GNU ``time``'s maximum resident set). Repeated lines are
  encoded once, so cost should follow the distinct inputs, not the pairs; a row with all-distinct lines
  is the control.

* **onnx** (``onnx_speed.py``): encode texts/s of the ONNX export (fp32 and int8) against PyTorch and
  ``SentenceTransformer.encode`` on the same model in the same run, an image tower (EfficientNet-Lite0) the
  same way, and with ``--onnx-quality`` int8's STS-B Spearman.

Run from the repository root (about 5-8 minutes on 2 CPU cores)::

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/speed.py --json benchmarks/results/speed.json

The ``SentenceTransformerTrainer`` itself needs ``accelerate`` (not a pairsim dependency); the training
comparison therefore runs sentence-transformers' model and loss module in the loop its trainer runs
(tokenise the batch's columns, loss, backward, clip, step), without the Hugging Face Trainer's bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"


def load() -> str:
    """The 1-, 5- and 15-minute load averages, for the record next to each timing."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def stsb(data_dir: str | None) -> Any:
    from pairsim.data import load_dataset

    cfg: dict[str, Any] = {"name": "stsb", "binarize_at": 4.0}
    if data_dir:
        cfg["path"] = str(Path(data_dir) / "stsbenchmark")
    return load_dataset(cfg)


def distinct_sentences(splits: Any) -> list[str]:
    seen: dict[str, None] = {}
    for table in (splits.train, splits.val, splits.test):
        for s in [*table.a, *table.b]:
            seen.setdefault(s, None)
    return list(seen)


def devices(names: list[str]) -> list[str]:
    return [d for d in names if d == "cpu" or (d.startswith("cuda") and torch.cuda.is_available())]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def summary(times: dict[str, list[float]], units: int, what: str) -> dict[str, float]:
    """Best and median rates of both sides and their ratios (pairsim / sentence-transformers)."""
    ours, theirs = times["pairsim"], times["sentence-transformers"]
    return {
        f"pairsim_{what}_best": units / min(ours), f"st_{what}_best": units / min(theirs),
        f"pairsim_{what}_median": units / statistics.median(ours), f"st_{what}_median": units / statistics.median(theirs),
        "ratio_best": min(theirs) / min(ours),
        "ratio_paired_median": statistics.median(b / a for a, b in zip(ours, theirs, strict=True)),
    }  # fmt: skip


def describe(row: dict[str, Any], unit: str) -> str:
    what = "texts_per_s" if unit == "texts/s" else "pairs_per_s"
    return (
        f"best pairsim {row[f'pairsim_{what}_best']:.1f} / ST {row[f'st_{what}_best']:.1f} {unit} (ratio "
        f"{row['ratio_best']:.3f}); median pairsim {row[f'pairsim_{what}_median']:.1f} / ST "
        f"{row[f'st_{what}_median']:.1f} {unit} (paired-ratio median {row['ratio_paired_median']:.3f})"
    )


# -- (a) encoding ---------------------------------------------------------------------------------------------
def bench_encode(args: argparse.Namespace, texts: list[str]) -> list[dict[str, Any]]:
    return [row for device in devices(args.devices) for row in encode_on(device, args, texts)]


def encode_on(device: str, args: argparse.Namespace, texts: list[str]) -> list[dict[str, Any]]:
    from sentence_transformers import SentenceTransformer

    from pairsim import PairModel

    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}}).to(device).eval()
    st = SentenceTransformer(str(args.model), device=device, trust_remote_code=False).eval()
    # same model, same pooling and normalisation: the embeddings agree
    ours = model.encode_a(texts[:256], batch_size=64)
    theirs = st.encode(texts[:256], batch_size=64, convert_to_tensor=True).cpu()
    max_diff = float((ours - theirs).abs().max())
    runs = {
        "pairsim": lambda bs: model.encode_a(texts, batch_size=bs),
        "sentence-transformers": lambda bs: st.encode(texts, batch_size=bs, show_progress_bar=False),
    }
    rows = []
    for bs in args.batch_sizes:
        times: dict[str, list[float]] = {k: [] for k in runs}
        for rep in range(args.repeats):
            order = list(runs) if rep % 2 == 0 else list(runs)[::-1]  # A B, B A, ...
            for name in order:
                sync(device)
                t0 = time.perf_counter()
                runs[name](bs)
                sync(device)
                times[name].append(time.perf_counter() - t0)
        row = {
            "device": device, "batch_size": bs, "texts": len(texts), "repeats": args.repeats,
            **summary(times, len(texts), "texts_per_s"), "max_abs_embedding_diff": max_diff,
            "times_s": times, "load": load(),
        }  # fmt: skip
        rows.append(row)
        print(
            f"encode {device} bs={bs}: {describe(row, 'texts/s')} (max |embedding diff| {max_diff:.1e}; {row['load']})",
            flush=True,
        )
    return rows


# -- (b) training -----------------------------------------------------------------------------------------------
def bench_train(args: argparse.Namespace, splits: Any) -> list[dict[str, Any]]:
    return [train_on(device, args, splits) for device in devices(args.devices)]


def train_on(device: str, args: argparse.Namespace, splits: Any) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer, losses

    from pairsim import PairModel
    from pairsim.data import Batches
    from pairsim.losses import LOSSES
    from pairsim.train.step import TrainStep, to_device

    margin = args.margin  # pairsim: negatives pushed below cosine `margin`; ST: beyond cosine distance 1 - margin
    torch.manual_seed(0)
    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}}).to(device)
    loss = LOSSES.get("contrastive")(LOSSES.get("contrastive").Config(name="contrastive", margin=margin),
                                     head=model.head)  # fmt: skip
    step_module = TrainStep(model, loss)
    t0 = time.perf_counter()
    batches = Batches(splits.train, loss.consumes, (model.tower_a, model.side_b), batch_size=args.train_batch, seed=0)
    pretokenize_s = time.perf_counter() - t0  # drawing the epoch's rows (towers tokenise on first sight, cached)
    order = [rows.index[:, 0].tolist() for rows in batches.rows(0)]  # this epoch's table rows: the same pairs for both
    table = splits.train

    st = SentenceTransformer(str(args.model), device=device, trust_remote_code=False)
    st_loss = losses.ContrastiveLoss(st, distance_metric=losses.SiameseDistanceMetric.COSINE_DISTANCE,
                                     margin=1.0 - margin)  # fmt: skip

    def st_batch(idx: list[int]) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
        features = [st.preprocess([table.a[i] for i in idx]), st.preprocess([table.b[i] for i in idx])]
        features = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in f.items()} for f in features]
        return features, torch.tensor([table.labels[i] for i in idx], device=device)

    # same math: with dropout off, both losses of the first batch agree
    model.eval()
    st.eval()
    with torch.no_grad():
        first = to_device(next(iter(batches.epoch(0))), device)
        ours0 = float(step_module(first))
        theirs0 = float(st_loss(*st_batch(order[0])))
    model.train()
    st.train()

    opt_ours = torch.optim.AdamW([p for p in step_module.parameters() if p.requires_grad], lr=2e-5)
    opt_st = torch.optim.AdamW([p for p in st.parameters() if p.requires_grad], lr=2e-5)
    it = iter(batches.epoch(0))
    cursor = {"st": 0}

    def ours_step() -> None:
        batch = to_device(next(it), device)
        value = step_module(batch)
        opt_ours.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(step_module.parameters(), 1.0)
        opt_ours.step()

    def st_step() -> None:
        features, labels = st_batch(order[cursor["st"]])
        cursor["st"] += 1
        value = st_loss(features, labels)
        opt_st.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(st.parameters(), 1.0)
        opt_st.step()

    steps = {"pairsim": ours_step, "sentence-transformers": st_step}
    times: dict[str, list[float]] = {k: [] for k in steps}
    needed = args.train_warmup + args.train_steps
    if needed > len(order):
        raise SystemExit(f"train: {needed} steps needed but the epoch has {len(order)} batches")
    for fn in steps.values():  # warm-up, not timed
        for _ in range(args.train_warmup):
            fn()
    for i in range(args.train_steps):
        for name in list(steps) if i % 2 == 0 else list(steps)[::-1]:  # A B, B A, ...
            sync(device)
            t0 = time.perf_counter()
            steps[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    row = {
        "device": device, "batch_size": args.train_batch, "timed_steps_each": args.train_steps,
        "warmup_steps": args.train_warmup, "loss": f"contrastive, cosine, pairsim margin {margin} = ST margin {1 - margin}",
        "first_batch_loss_pairsim": ours0, "first_batch_loss_st": theirs0,
        **summary(times, args.train_batch, "pairs_per_s"),
        "pairsim_pretokenize_s": pretokenize_s, "train_texts": 2 * len(table),
        "step_times_s": times, "load": load(),
    }  # fmt: skip
    print(
        f"train {device} bs={args.train_batch}: {describe(row, 'pairs/s')} "
        f"({args.train_steps} steps each after {args.train_warmup} warm-up; first-batch loss "
        f"{ours0:.6f} vs {theirs0:.6f}; pairsim pre-tokenised {row['train_texts']} texts in {pretokenize_s:.1f} s; "
        f"{row['load']})",
        flush=True,
    )
    return row


# -- (c) pairsim score ------------------------------------------------------------------------------------------
GNU_TIME = "/usr/bin/time"


def run_child(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS in MiB and exit code of ``cmd`` run as a child process.

    The peak RSS comes from GNU ``time`` (``%M``), whose own child starts small. Linux keeps a process's
    RSS high-water mark across ``exec``, so ``wait4`` on a child forked straight from this (large) process
    would report at least this process's own RSS; that fallback is only used without ``/usr/bin/time``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        err, stats = Path(tmp) / "stderr", Path(tmp) / "time"
        use_time = os.access(GNU_TIME, os.X_OK)
        full = [GNU_TIME, "-f", "%e %M", "-o", str(stats), *cmd] if use_time else cmd
        with open(err, "w") as f:
            t0 = time.perf_counter()
            proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=f)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss / 1024  # KiB -> MiB; an upper bound (see above)
        if use_time and stats.is_file():
            rss = int(stats.read_text().split()[-1]) / 1024
        return wall, rss, proc.returncode, err.read_text()[-2000:]


def bench_score(args: argparse.Namespace, sentences: list[str]) -> list[dict[str, Any]]:
    from pairsim import PairModel

    work = Path(tempfile.mkdtemp(prefix="pairsim-score-bench-"))
    model_dir = work / "model"
    PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}}).save_pretrained(model_dir)
    rng = np.random.default_rng(0)
    pool = sentences[: args.score_pool]
    cases: list[tuple[str, int, list[str], list[str]]] = [("startup (10 pairs)", 10, pool[:10], pool[10:20])]
    for n in args.score_sizes:
        cases.append((f"{n} pairs, pool {len(pool)}", n, rng.choice(pool, n).tolist(), rng.choice(pool, n).tolist()))
    for n in args.score_distinct:
        if 2 * n > len(sentences):
            print(f"score: skip the {n}-distinct control (only {len(sentences)} distinct sentences)")
            continue
        rest = sentences[: 2 * n]
        cases.append((f"{n} pairs, all distinct", n, rest[:n], rest[n:]))
    rows = []
    for device in devices(args.devices):
        for label, n, a, b in cases:
            fa, fb, out = work / "a.txt", work / "b.txt", work / "scores.tsv"
            fa.write_text("\n".join(a) + "\n")
            fb.write_text("\n".join(b) + "\n")
            cmd = [sys.executable, "-m", "pairsim", "score", str(fa), str(fb), "--model", str(model_dir),
                   "--out", str(out), "--device", device, "--batch-size", "64"]  # fmt: skip
            walls, rsss = [], []
            for _ in range(args.score_repeats):
                wall, rss, code, err = run_child(cmd)
                if code != 0:
                    raise SystemExit(f"pairsim score failed ({code}): {err}")
                walls.append(wall)
                rsss.append(rss)
            lines = len(out.read_text().splitlines()) - 1
            assert lines == n, (lines, n)
            row = {
                "device": device, "case": label, "pairs": n, "distinct_a": len(set(a)), "distinct_b": len(set(b)),
                "wall_s": min(walls), "peak_rss_mib": max(rsss), "repeats": args.score_repeats,
                "walls_s": walls, "load": load(),
            }  # fmt: skip
            rows.append(row)
            print(
                f"score {device} {label}: distinct a/b {row['distinct_a']}/{row['distinct_b']}, wall "
                f"{row['wall_s']:.1f} s, peak RSS {row['peak_rss_mib']:.0f} MiB ({row['load']})",
                flush=True,
            )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", choices=["encode", "train", "score", "onnx"],
                   default=["encode", "train", "score", "onnx"])  # fmt: skip
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="sentence-transformers model directory")
    p.add_argument("--data-dir", default=os.environ.get("PAIRSIM_DATA_DIR"), help="folder holding stsbenchmark/")
    p.add_argument("--devices", nargs="*", default=["cpu", "cuda"], help="cuda is skipped where absent")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--n-texts", type=int, default=1000, help="distinct STS-B sentences to encode")
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[64, 256])
    p.add_argument("--repeats", type=int, default=7, help="encode: timed runs of each side per batch size")
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--margin", type=float, default=0.5, help="contrastive margin (cosine score)")
    p.add_argument("--train-warmup", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=16, help="timed steps per side, alternating")
    p.add_argument("--score-sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    p.add_argument("--score-pool", type=int, default=500)
    p.add_argument("--score-distinct", type=int, nargs="*", default=[1000], help="all-distinct control sizes")
    p.add_argument("--score-repeats", type=int, default=2, help="runs per case; the fastest is kept")
    p.add_argument("--n-images", type=int, default=64, help="onnx: AT&T face images for the image-tower rows")
    p.add_argument("--onnx-quality", action="store_true", help="onnx: STS-B test Spearman of PyTorch / fp32 / int8")
    p.add_argument("--json", help="write every figure here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import sentence_transformers
    import transformers

    env = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__,
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "load_at_start": load(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }  # fmt: skip
    print(json.dumps(env), flush=True)
    splits = stsb(args.data_dir)
    sentences = distinct_sentences(splits)
    results: dict[str, Any] = {"env": env}
    if "encode" in args.only:
        results["encode"] = bench_encode(args, sentences[: args.n_texts])
    if "train" in args.only:
        results["train"] = bench_train(args, splits)
    if "score" in args.only:
        results["score"] = bench_score(args, sentences)
    if "onnx" in args.only:  # ONNX fp32 / int8 vs PyTorch vs SentenceTransformer.encode (benchmarks/onnx_speed.py)
        sys.path.insert(0, str(Path(__file__).parent))
        from onnx_speed import bench_onnx

        results["onnx"] = bench_onnx(args, sentences[: args.n_texts], splits, load)
    results["env"]["load_at_end"] = load()

    print("\n| what | device | setting | pairsim best / median | ST best / median | ratio best / paired median |")
    print("|---|---|---|---|---|---|")
    for section, what, setting in (("encode", "texts_per_s", "batch {batch_size}, {texts} texts"),
                                   ("train", "pairs_per_s", "batch {batch_size}, contrastive")):  # fmt: skip
        for r in results.get(section, []):
            print(f"| {section} {what.replace('_per_s', '/s')} | {r['device']} | {setting.format(**r)} | "
                  f"{r[f'pairsim_{what}_best']:.1f} / {r[f'pairsim_{what}_median']:.1f} | "
                  f"{r[f'st_{what}_best']:.1f} / {r[f'st_{what}_median']:.1f} | "
                  f"{r['ratio_best']:.3f} / {r['ratio_paired_median']:.3f} |")  # fmt: skip
    if results.get("score"):
        print("\n| pairsim score | device | distinct a / b | wall s (best) | peak RSS MiB |")
        print("|---|---|---|---|---|")
        for r in results["score"]:
            print(f"| {r['case']} | {r['device']} | {r['distinct_a']} / {r['distinct_b']} | {r['wall_s']:.1f} | "
                  f"{r['peak_rss_mib']:.0f} |")  # fmt: skip
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"\nwritten {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
