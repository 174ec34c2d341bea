"""Gallery identify latency and memory at 1k / 100k / 1M enrolled embeddings: brute force vs FAISS.

Synthetic embeddings (seeded Gaussian, ``--dim`` wide, 10 rows per identity) and the cosine head, searched
through :class:`pairsim.search.GalleryIndex` with ``backend="exact"`` (chunked ``head.matrix``) and
``backend="faiss"`` (flat inner-product index + head re-scoring). Per size: index build time, best and
median latency of identifying a batch of probes and a single probe, the bytes each search keeps (the
embedding table; FAISS keeps its own copy besides the table used for re-scoring), the process RSS after
building, and whether both return the same rows.

Run from the repository root (about a minute on 2 CPU cores)::

    python benchmarks/gallery_speed.py --json benchmarks/results/gallery.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from pairsim.heads import HEADS
from pairsim.search import GalleryIndex


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Any, repeats: int) -> tuple[float, float]:
    """Best and median milliseconds of ``fn()``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1_000, 100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--probes", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--head", default="cosine", choices=["cosine", "euclidean", "exp"])
    p.add_argument("--json")
    args = p.parse_args()
    head = HEADS.get(args.head)(HEADS.get(args.head).Config(name=args.head))
    rows_out = []
    env = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "torch_threads": torch.get_num_threads(),
           "cores": os.cpu_count(), "load": os.getloadavg(), "command": " ".join(["python", *sys.argv])}  # fmt: skip
    print(json.dumps(env), flush=True)
    for n in args.sizes:
        g = torch.Generator().manual_seed(n)
        table = torch.randn(n, args.dim, generator=g)  # (N, D)
        names = [f"id{i // 10}" for i in range(n)]
        probes = table[torch.randint(0, n, (args.probes,), generator=g)] + 0.1 * torch.randn(
            args.probes, args.dim, generator=g
        )
        row: dict[str, Any] = {"rows": n, "dim": args.dim, "head": args.head, "table_mib": table.numel() * 4 / 2**20}
        found = {}
        for backend in ("exact", "faiss"):
            base = rss_mib()
            t0 = time.perf_counter()
            gallery = GalleryIndex(names, table, head=head, backend=backend)  # type: ignore[arg-type]
            gallery.searcher()
            build_ms = (time.perf_counter() - t0) * 1000
            batch = timed(lambda gallery=gallery, probes=probes: gallery.identify(probes), args.repeats)
            single = timed(lambda gallery=gallery, probes=probes: gallery.identify(probes[:1]), args.repeats)
            found[backend] = gallery.search(probes, k=5)[1]
            row[backend] = {"build_ms": build_ms, f"identify_{args.probes}_best_ms": batch[0],
                            f"identify_{args.probes}_median_ms": batch[1], "identify_1_best_ms": single[0],
                            "identify_1_median_ms": single[1], "rss_growth_mib": rss_mib() - base}  # fmt: skip
            print(f"{n:>9} rows {backend:>5}: build {build_ms:8.1f} ms, identify {args.probes} probes "
                  f"{batch[0]:8.2f} / {batch[1]:8.2f} ms (best / median), 1 probe {single[0]:8.2f} / {single[1]:8.2f} ms, "
                  f"RSS +{row[backend]['rss_growth_mib']:.0f} MiB", flush=True)  # fmt: skip
            del gallery
        row["same_top5_rows"] = bool(torch.equal(found["exact"], found["faiss"]))
        print(
            f"{n:>9} rows: FAISS top-5 rows equal brute force: {row['same_top5_rows']} ({os.getloadavg()[0]:.2f} load)"
        )
        rows_out.append(row)
        del table
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"env": env, "rows": rows_out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
