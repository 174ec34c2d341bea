"""The GPU figures in one run (``benchmarks/gpu.sh``): encode and train speed against sentence-transformers,
bf16 step time and model FLOP utilisation of a transformer tower, and Omniglot's prototypical recipe to 92%.

Rows (each written to ``--out`` as soon as it is measured, so a run cut short keeps what it finished):

* ``encode`` / ``train``: :func:`speed.encode_on` / :func:`speed.train_on` (the CPU comparison's own code) on
  the CUDA device: pairsim against ``SentenceTransformer.encode`` and sentence-transformers' contrastive loss
  on the same model, batches and pairs, alternating A B, B A.
* ``tower_step``: one training step (forward, in-batch softmax loss, backward, AdamW) of the transformer tower
  on sequences of ``--seq`` tokens, in fp32 and under ``torch.autocast(bfloat16)``, at the largest batch of
  32, 64, ... that fits in 80% of the card's memory; model FLOP utilisation = 3 x forward FLOPs (2 per weight
  per token plus attention's 4 x layers x seq x hidden per token) / step time / the card's dense bf16 peak.
* ``omniglot``: ``recipes/omniglot_protonet.yaml`` on the device with a snapshot every 100 steps, each scored
  on the 20 official runs (``quality_omniglot.curve``): the first to reach 92% gives the training minutes.
  Skipped, and said so, when ``PAIRSIM_DATA_DIR`` (or ``--data-dir``) holds no ``omniglot/``.

The model: ``--model DIR`` or ``$PAIRSIM_MINILM`` (all-MiniLM-L6-v2's directory); where neither exists (a
device that received only the working tree) a random BERT of MiniLM's shape (6 layers, 384 wide) with a
vocabulary built here, said so in the JSON. Texts: STS-B where present, else generated sentences.

``--dry-run`` runs every row on the CPU at toy sizes (a 2-layer, 32-wide random BERT; seconds): what CI runs.
Its Omniglot row only checks the recipe and overrides (the data preparation alone takes minutes on a CPU).

Example::

    benchmarks/gpu.sh                      # on a CUDA machine, under 8 minutes
    benchmarks/gpu.sh --dry-run --out /tmp/gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # speed.py, quality_omniglot.py

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "A10": 125.0, "L4": 121.0,
                    "L40": 181.0, "4090": 165.0}  # dense (no sparsity) bf16 tensor-core peaks  # fmt: skip
WORDS = ["the", "a", "man", "woman", "dog", "cat", "plays", "runs", "walks", "sits", "on", "in", "with", "near", "red", "blue", "green", "small", "big", "old", "young", "child", "park", "street", "water", "ball", "car", "house", "tree", "food", "music", "people", "group", "two", "three", "is", "are", "was", "looking", "at", "while", "playing", "holding", "wearing", "white", "black", "shirt", "hat", "under", "over", "beside"]  # fmt: skip


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


def random_bert(directory: Path, *, tiny: bool) -> Path:
    """A random BERT (tiny: 2 x 32; else MiniLM's 6 x 384 shape) with a WordPiece vocabulary of ``WORDS``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz.,"]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    shape = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64) if tiny else \
        dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=len(vocab), max_position_embeddings=512, **shape)).save_pretrained(directory)
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt"), do_lower_case=True).save_pretrained(directory)
    return directory


def pick_model(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    """The model directory and what it is."""
    if not args.dry_run:
        for candidate in (args.model, os.environ.get("PAIRSIM_MINILM"), REPO.parent / "shared/models/all-MiniLM-L6-v2"):
            if candidate and (Path(candidate) / "config.json").is_file():
                return Path(candidate), f"pretrained weights from {candidate}"
    tiny = args.dry_run
    why = "dry run" if args.dry_run else "no MiniLM directory (--model / $PAIRSIM_MINILM)"
    return random_bert(scratch / "bert", tiny=tiny), f"random BERT {'2x32' if tiny else '6x384 (MiniLM shape)'} ({why})"


def texts_and_pairs(args: argparse.Namespace, n: int) -> tuple[list[str], Any, str]:
    """Texts to encode and pair splits to train on: STS-B where present, else generated sentences."""
    from pairsim.data.types import PairTable, Splits

    data = Path(args.data_dir) if args.data_dir else None
    if data is not None and (data / "stsbenchmark" / "sts-train.csv").is_file() and not args.dry_run:
        import speed

        splits = speed.stsb(str(data))
        return speed.distinct_sentences(splits)[:n], splits, "STS-B"
    rng = random.Random(0)
    sents = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24))) for _ in range(max(n, 64))]
    half = len(sents) // 2
    table = PairTable(a=sents[:half], b=sents[half : 2 * half], labels=[float(i % 2) for i in range(half)])
    return sents[:n], Splits(train=table, val=table, test=table), "generated sentences (no STS-B here)"


def tower_step(model_dir: Path, device: str, args: argparse.Namespace) -> dict[str, Any]:
    """fp32 and bf16-autocast step times of the transformer tower at the largest batch that fits; MFU."""
    from pairsim import PairModel

    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(model_dir)}}).to(device)
    tower = model.tower_a.train()
    cfg = tower.encoder.config
    params = sum(p.numel() for n, p in tower.named_parameters() if "embeddings" not in n)
    opt = torch.optim.AdamW(tower.parameters(), lr=1e-5)
    seq = args.seq

    def batch(b: int) -> dict[str, torch.Tensor]:
        ids = torch.randint(5, cfg.vocab_size, (b, seq), device=device)  # (B, T)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}

    def step(x: dict[str, torch.Tensor], bf16: bool) -> None:
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            emb = tower(x)  # (B, H)
            half = emb.shape[0] // 2
            logits = emb[:half] @ emb[half:].T * 20  # (B/2, B/2): in-batch softmax
            loss = torch.nn.functional.cross_entropy(logits.float(), torch.arange(half, device=device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(b: int, bf16: bool, steps: int) -> float:
        x = batch(b)
        for _ in range(2):
            step(x, bf16)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step(x, bf16)
        sync(device)
        return (time.perf_counter() - t0) / steps

    size = 8 if args.dry_run else 32
    if device.startswith("cuda"):  # the largest power-of-two batch within 80% of the card
        total = torch.cuda.get_device_properties(device).total_memory
        while size < args.max_batch:
            torch.cuda.reset_peak_memory_stats(device)
            try:
                timed(size * 2, True, 1)
            except torch.OutOfMemoryError:
                break
            if torch.cuda.max_memory_allocated(device) > 0.8 * total:
                break
            size *= 2
        torch.cuda.empty_cache()
    steps = 2 if args.dry_run else 10
    fp32_s, bf16_s = timed(size, False, steps), timed(size, True, steps)
    tokens = size * seq
    flops = 3 * tokens * (2 * params + 4 * cfg.num_hidden_layers * seq * cfg.hidden_size)  # fwd + bwd
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None) if device.startswith("cuda") else None
    row = {"device": device, "card": name, "batch": size, "seq": seq, "non_embedding_params": params,
           "fp32_step_s": round(fp32_s, 5), "bf16_step_s": round(bf16_s, 5), "bf16_speedup": round(fp32_s / bf16_s, 3),
           "bf16_tokens_per_s": round(tokens / bf16_s), "train_flops_per_step": flops,
           "bf16_achieved_tflops": round(flops / bf16_s / 1e12, 2), "peak_bf16_tflops": peak,
           "mfu": round(flops / bf16_s / 1e12 / peak, 4) if peak else None, "steps_timed": steps}  # fmt: skip
    print(f"tower step {device} batch {size}x{seq}: fp32 {fp32_s * 1e3:.1f} ms, bf16 {bf16_s * 1e3:.1f} ms "
          f"({row['bf16_speedup']}x), {row['bf16_achieved_tflops']} TFLOP/s, MFU {row['mfu']}", flush=True)  # fmt: skip
    return row


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def omniglot(args: argparse.Namespace, device: str, scratch: Path) -> dict[str, Any]:
    """The prototypical recipe on the device to 92% on the official runs (minutes), or why it was skipped."""
    data = Path(args.data_dir) if args.data_dir else None
    if data is None or not (data / "omniglot" / "images_background.npz").is_file():
        where = data / "omniglot" if data else "PAIRSIM_DATA_DIR (unset)"
        print(f"omniglot: skipped: no Omniglot data at {where} (set PAIRSIM_DATA_DIR or --data-dir)", flush=True)
        return {"skipped": f"no Omniglot data at {where}"}
    import quality_omniglot
    from quality_common import command, run

    from pairsim.recipe import Recipe

    os.environ["PAIRSIM_DATA_DIR"] = str(data)
    out = scratch / "omniglot"
    overrides = [f"train.device={device}", "train.seed=0", "eval.plots=false", "train.checkpoint.every=0",
                 "train.checkpoint.snapshot_every=100", f"output_dir={out}"]  # fmt: skip
    Recipe.load(REPO / quality_omniglot.RECIPE, overrides)  # the recipe and overrides are valid
    if args.dry_run:  # its data preparation alone takes minutes on a CPU
        print("omniglot: dry run: recipe and overrides checked, not trained", flush=True)
        return {"dry_run": "recipe and overrides checked, not trained",
                "command": command(quality_omniglot.RECIPE, overrides)}  # fmt: skip
    result = run(quality_omniglot.RECIPE, overrides)
    points = quality_omniglot.curve(out)
    row = {"command": result["command"], "wall_s": result["seconds"], "test": result["test"], "curve": points,
           "minutes_to_92": quality_omniglot.minutes_to(points, quality_omniglot.TARGET), "device": device}  # fmt: skip
    print(f"omniglot on {device}: {result['seconds'] / 60:.1f} wall min, minutes to 92%: {row['minutes_to_92']}",
          flush=True)  # fmt: skip
    return row


def table(report: dict[str, Any]) -> str:
    """The headline figures of a ``gpu.json`` as Markdown rows for ``RESULTS.md``.

    Example:
        >>> print(table({"card": "H100", "date": "d", "rows": {"omniglot": {"skipped": "no data"}}}).splitlines()[-1])
        | omniglot | skipped: no data |
    """
    rows = report.get("rows", {})
    lines = [f"GPU run {report.get('date')} on {report.get('card') or report.get('device')} "
             f"(model: {report.get('model')}; texts: {report.get('texts')})", "", "| row | figures |", "|---|---|"]  # fmt: skip
    for name, row in rows.items():
        if isinstance(row, dict) and ("skipped" in row or "error" in row):
            text = f"skipped: {row['skipped']}" if "skipped" in row else f"error: {row['error']}"
        elif name == "encode":
            text = "; ".join(f"batch {r['batch_size']}: pairsim {r['pairsim_texts_per_s_best']:.0f} vs ST "
                             f"{r['st_texts_per_s_best']:.0f} texts/s ({r['ratio_best']:.2f}x)" for r in row)  # fmt: skip
        elif name == "train":
            text = (f"batch {row['batch_size']}: pairsim {row['pairsim_pairs_per_s_best']:.0f} vs ST "
                    f"{row['st_pairs_per_s_best']:.0f} pairs/s ({row['ratio_best']:.2f}x)")  # fmt: skip
        elif name == "tower_step":
            text = (f"batch {row['batch']}x{row['seq']}: fp32 {row['fp32_step_s'] * 1e3:.1f} ms, bf16 "
                    f"{row['bf16_step_s'] * 1e3:.1f} ms ({row['bf16_speedup']}x), MFU {row['mfu']}")  # fmt: skip
        elif name == "omniglot":
            text = row.get("dry_run") or f"minutes to 92%: {row.get('minutes_to_92')}, wall {row.get('wall_s')} s"
        else:
            text = json.dumps(row)[:200]
        lines.append(f"| {name} | {text} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", metavar="JSON", help="print a gpu.json's figures as Markdown rows and stop")
    p.add_argument("--dry-run", action="store_true", help="CPU, toy sizes, seconds (CI)")
    p.add_argument("--model", help="sentence-transformers model directory (default $PAIRSIM_MINILM)")
    p.add_argument("--data-dir", default=os.environ.get("PAIRSIM_DATA_DIR"), help="holds stsbenchmark/, omniglot/")
    p.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    p.add_argument("--seq", type=int, default=128, help="tower_step: tokens per sequence")
    p.add_argument("--max-batch", type=int, default=4096, help="tower_step: largest batch tried")
    p.add_argument("--budget-s", type=float, default=450, help="rows not started past this many seconds are skipped")
    args = p.parse_args(argv)
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return 0
    if args.dry_run:
        device, args.seq = "cpu", 16
        torch.set_num_threads(1)
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print("gpu.sh: no CUDA device here; run `benchmarks/gpu.sh --dry-run` to check the script on a CPU",
              file=sys.stderr)  # fmt: skip
        return 2
    start = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pairsim-gpu-"))
    model_dir, model_kind = pick_model(args, scratch)
    n_texts = 32 if args.dry_run else 4000
    texts, splits, text_kind = texts_and_pairs(args, n_texts)
    report: dict[str, Any] = {
        "date": now(), "dry_run": args.dry_run, "device": device, "torch": torch.__version__,
        "card": torch.cuda.get_device_name(0) if device == "cuda" else None, "model": model_kind, "texts": text_kind,
        "command": " ".join(["benchmarks/gpu.sh", *(argv if argv is not None else sys.argv[1:])]),
        "load_start": os.getloadavg(), "rows": {},
    }  # fmt: skip

    def save() -> None:
        report["wall_s"] = round(time.perf_counter() - start, 1)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1, default=str))
        tmp.replace(out)

    import speed

    small = args.dry_run
    bench = argparse.Namespace(model=model_dir, batch_sizes=[8] if small else [128, 512], repeats=1 if small else 3,
                               margin=0.5, train_batch=4 if small else 64, train_warmup=1 if small else 3,
                               train_steps=2 if small else 20)  # fmt: skip
    rows = {
        "encode": lambda: speed.encode_on(device, bench, texts),
        "train": lambda: speed.train_on(device, bench, splits),
        "tower_step": lambda: tower_step(model_dir, device, args),
        "omniglot": lambda: omniglot(args, device, scratch),
    }
    for name, fn in rows.items():
        if time.perf_counter() - start > args.budget_s:
            report["rows"][name] = {"skipped": f"time budget of {args.budget_s:.0f} s spent before this row"}
        else:
            t0 = time.perf_counter()
            try:
                report["rows"][name] = fn()
            except Exception as err:  # one failing row must not lose the others' figures
                report["rows"][name] = {"error": f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"}
                print(f"{name}: failed: {report['rows'][name]['error']}", file=sys.stderr, flush=True)
            report.setdefault("row_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        save()
    report["load_end"] = os.getloadavg()
    save()
    print(f"wrote {out} in {report['wall_s']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
