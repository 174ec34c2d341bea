"""Peak memory of one training step of ``infonce`` and ``cached_infonce`` at batch 64, 256 and 1,024 (CPU).

Each (loss, batch size) runs in a fresh subprocess: build a transformer tower (a small random BERT with MiniLM's
tokenizer by default, or MiniLM itself with ``--model``), tokenize ``batch`` STS-B sentence pairs plus one
explicit negative each (``negatives: 1``), then run one forward + backward through pairsim's ``TrainStep`` while
a thread samples the process's resident set size every 5 milliseconds. Reported per run: the peak RSS, the RSS just
before the step, and their difference (the step's working memory); the figures of interest are the ratios
``peak(1024) / peak(64)`` for each loss (target for cached_infonce: <= 1.3).

    PAIRSIM_DATA_DIR=../shared/data OMP_NUM_THREADS=2 nice -n 5 python benchmarks/cached_infonce_memory.py \\
        --json benchmarks/results/cached_infonce_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MINILM = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"
SIZES = (64, 256, 1024)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sentences(n: int) -> list[str]:
    """``n`` real sentences: STS-B training sentences (column 6 and 7), repeated if needed."""
    root = Path(os.environ.get("PAIRSIM_DATA_DIR", REPO.parent / "shared" / "data")) / "stsbenchmark"
    out: list[str] = []
    for line in (root / "sts-train.csv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 7:
            out += [parts[5], parts[6]]
    return [out[i % len(out)] for i in range(n)]


def tiny_bert(directory: Path, hidden: int, layers: int) -> str:
    """A random BERT (``layers`` x ``hidden``) saved with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                     intermediate_size=4 * hidden)  # fmt: skip
    BertModel(cfg).save_pretrained(directory)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(directory)
    return str(directory)


def one_step(loss_name: str, batch: int, model_dir: str, max_length: int, mini: int) -> dict[str, Any]:
    """One training step in this process; the peak RSS while it runs."""
    import torch

    from pairsim.losses import LOSSES
    from pairsim.model import PairModel
    from pairsim.train.step import TrainStep

    torch.manual_seed(0)
    model = PairModel.from_config({"tower": {"name": "transformer", "model": model_dir, "max_length": max_length}})
    model.train()
    fields = {"negatives": 1} | ({"mini_batch_size": mini} if loss_name == "cached_infonce" else {})
    loss = LOSSES.get(loss_name)(LOSSES.get(loss_name).Config(name=loss_name, **fields), head=model.head)
    step = TrainStep(model, loss)
    texts = sentences(3 * batch)
    tower = model.tower_a
    slots = [tower.collate(tower.featurize(texts[i * batch : (i + 1) * batch])) for i in range(3)]
    keys = torch.stack(
        [torch.arange(batch)[:, None].expand(batch, 3), torch.arange(3 * batch).reshape(3, batch).T], dim=2
    )
    keys[:, 2, 0] += batch  # negatives: keys of their own
    before = _rss()
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    start = time.perf_counter()
    value = step((*slots, keys))
    value.backward()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    peak[0] = max(peak[0], _rss())
    return {"loss": loss_name, "batch": batch, "peak_rss_mb": peak[0] / 2**20, "before_step_mb": before / 2**20,
            "step_mb": (peak[0] - before) / 2**20, "seconds": seconds, "loss_value": float(value)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a local transformer directory (e.g. MiniLM); default: a small random BERT")
    p.add_argument("--hidden", type=int, default=256, help="small BERT: hidden size")
    p.add_argument("--layers", type=int, default=4, help="small BERT: layers")
    p.add_argument("--max-length", type=int, default=32, help="tokens per text")
    p.add_argument("--mini-batch", type=int, default=32, help="cached_infonce's mini_batch_size")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(one_step(args.child[0], int(args.child[1]), args.model_dir, args.max_length, args.mini_batch)))
        return
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or tiny_bert(Path(tmp) / "bert", args.hidden, args.layers)
        runs = []
        for loss in ("cached_infonce", "infonce"):
            for size in args.sizes:
                cmd = [sys.executable, __file__, "--child", loss, str(size), "--model-dir", model_dir,
                       "--max-length", str(args.max_length), "--mini-batch", str(args.mini_batch)]  # fmt: skip
                out = subprocess.run(
                    cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)}
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(runs[-1]), flush=True)
    small, large = min(args.sizes), max(args.sizes)
    by = {(r["loss"], r["batch"]): r for r in runs}
    ratios = {
        loss: {"peak_rss": by[(loss, large)]["peak_rss_mb"] / by[(loss, small)]["peak_rss_mb"],
               "step_mb": by[(loss, large)]["step_mb"] / max(by[(loss, small)]["step_mb"], 1e-9)}
        for loss in ("cached_infonce", "infonce")
    }  # fmt: skip
    summary = {
        "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_seconds": round(time.time() - started, 1), "load_average": os.getloadavg(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "model": args.model or f"random BERT {args.layers}x{args.hidden}",
        "max_length": args.max_length, "mini_batch_size": args.mini_batch, "negatives": 1, "seed": 0, "runs": runs,
        f"ratio_{large}_over_{small}": ratios,
    }  # fmt: skip
    print(json.dumps({f"ratio_{large}_over_{small}": ratios}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
