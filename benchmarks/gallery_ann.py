"""Approximate gallery search at 1M+ rows of 384-d MiniLM-like embeddings: recall@10, latency, build, memory.

Rows: real all-MiniLM-L6-v2 embeddings of the sentences available locally (STS-B, MRPC, Flickr8k captions),
and, to reach the sizes, clustered synthetic rows drawn around them: identities = a real embedding + Gaussian
noise of norm ``--topic-noise`` (L2-normalised), ``PER_IDENTITY`` = 10 examples each = the identity + noise
of norm ``--noise``. Probes are fresh examples of enrolled identities; the ``real`` rows search held-out real
sentences among the other real ones. The synthetic set is easy for ANN (an identity's examples lie apart
from other identities'): its recall figures are upper bounds; the real rows are the check.

Each index is built and searched through :class:`pairsim.search.GalleryIndex` (cosine head; ANN results are
re-scored by the head on the float rows, which are memory-mapped from a file as an ``on_disk`` gallery's are).
Per kind and setting: build seconds, recall@10 against the exact top 10 (FAISS flat, batched), one-probe
search latency p50 / p99 over ``--queries`` probes, speed-up over the exact flat search of one probe (the
``faiss`` backend, measured in the same run), and memory: the index's own bytes (the serialised FAISS
index; flat: the float rows) and the process's anonymous RSS growth (the memory-mapped rows are page cache,
not counted).

Run from the repository root (2 shared cores; ~15 min at 1M, ~35 min at 3M)::

    OMP_NUM_THREADS=2 nice -n 5 python benchmarks/gallery_ann.py --sizes 1000000 --json benchmarks/results/gallery_ann_1m.json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairsim.heads import HEADS
from pairsim.search import GalleryIndex
from pairsim.search.ann import AnnConfig

DATA = Path(os.environ.get("PAIRSIM_DATA_DIR", "../shared/data"))
MODEL = Path(os.environ.get("PAIRSIM_MINILM", "../shared/models/all-MiniLM-L6-v2"))
PER_IDENTITY = 10  # examples (rows) per synthetic identity
BUILD_THREADS = int(os.environ.get("OMP_NUM_THREADS", "2"))


def rss_anon_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def sentences(limit: int) -> list[str]:
    """Distinct sentences of STS-B, MRPC and Flickr8k captions (file order), at most ``limit``."""
    out: dict[str, None] = {}
    for name in ("sts-train.csv", "sts-dev.csv", "sts-test.csv"):
        for line in (DATA / "stsbenchmark" / name).read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            out.update(dict.fromkeys(c for c in cols[5:7] if c.strip()))
    for name in ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt"):
        for line in (DATA / "mrpc" / name).read_text(encoding="utf-8-sig").splitlines():
            out.update(dict.fromkeys(c for c in line.split("\t")[3:5] if c.strip()))
    with open(DATA / "flickr8k" / "captions.txt", encoding="utf-8") as f:
        out.update(dict.fromkeys(row["caption"] for row in csv.DictReader(f)))
    return list(out)[:limit]


def real_embeddings(cache: Path, limit: int) -> np.ndarray:
    """``(S, 384)`` L2-normalised MiniLM embeddings of the local sentences (cached in ``cache``)."""
    if cache.is_file():
        return np.load(cache, allow_pickle=False)
    from sentence_transformers import SentenceTransformer

    texts = sentences(limit)
    t0 = time.perf_counter()
    emb = SentenceTransformer(str(MODEL), device="cpu").encode(texts, batch_size=64, normalize_embeddings=True)
    print(f"encoded {len(texts)} sentences in {time.perf_counter() - t0:.0f} s", flush=True)
    np.save(cache, emb.astype(np.float32))
    return emb.astype(np.float32)


def around(centres: np.ndarray, which: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``normalise(centres[which] + noise)``: Gaussian noise of norm about ``noise``."""
    d = centres.shape[1]
    x = centres[which] + rng.normal(0, noise / np.sqrt(d), (len(which), d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def identities(real: np.ndarray, n: int, noise: float, seed: int) -> np.ndarray:
    """``(n / PER_IDENTITY, D)`` identities drawn around the real embeddings (each real sentence a topic)."""
    rng = np.random.default_rng(seed)
    return around(real, rng.integers(0, len(real), max(1, n // PER_IDENTITY)), noise, rng)


def clustered_rows(path: Path, ids: np.ndarray, n: int, noise: float, seed: int) -> np.ndarray:
    """``(n, D)`` memory-mapped rows, ``PER_IDENTITY`` examples of each identity, written in chunks."""
    rows = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, ids.shape[1]))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 262_144):
        which = np.arange(start, min(n, start + 262_144)) // PER_IDENTITY % len(ids)
        rows[start : start + len(which)] = around(ids, which, noise, rng)
    rows.flush()
    del rows
    return np.load(path, mmap_mode="c")  # copy-on-write: torch gets a writable view, nothing goes back


def exact_top(rows: np.ndarray, probes: np.ndarray, k: int) -> np.ndarray:
    """``(Q, k)`` exact top rows by inner product (FAISS flat, batched, chunked over the rows)."""
    import faiss

    best_s = np.full((len(probes), 0), -np.inf, np.float32)
    best_i = np.zeros((len(probes), 0), np.int64)
    for start in range(0, len(rows), 1_000_000):
        chunk = np.ascontiguousarray(rows[start : start + 1_000_000])
        s, i = faiss.knn(probes, chunk, k, metric=faiss.METRIC_INNER_PRODUCT)
        best_s, best_i = np.hstack([best_s, s]), np.hstack([best_i, i + start])
        order = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
    return best_i


def latencies(gallery: GalleryIndex, probes: torch.Tensor, k: int) -> tuple[list[float], np.ndarray]:
    """Milliseconds of each one-probe search, and the ``(Q, k)`` rows found."""
    times, found = [], []
    for p in probes:
        t0 = time.perf_counter()
        rows = gallery.search(p[None], k=k)[1]
        times.append((time.perf_counter() - t0) * 1000)
        found.append(rows[0].numpy())
    return times, np.stack(found)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def pct(times: list[float], q: float) -> float:
    return float(np.percentile(times, q))


def index_bytes(gallery: GalleryIndex) -> int:
    search = gallery.searcher()
    if search.name == "faiss":
        return int(search.index.ntotal) * search.index.d * 4
    f = search.faiss
    data = f.serialize_index_binary(search.index) if search.name == "binary" else f.serialize_index(search.index)
    return int(data.size) + search.row_of_id.nbytes


def run_kind(
    rows: torch.Tensor, names: list[str], probes: torch.Tensor, truth: np.ndarray, backend: str,
    config: AnnConfig | None, settings: list[dict[str, int]], k: int, head: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    config = dataclasses.replace(config) if config is not None else None  # settings below change this copy
    base = rss_anon_mib()
    t0 = time.perf_counter()
    gallery = GalleryIndex(names, rows, head=head, backend=backend, ann=config)  # type: ignore[arg-type]
    gallery.searcher()
    build_s = time.perf_counter() - t0
    set_threads(1)  # one probe at a time: one thread (no OpenMP team to gather on a shared machine)
    out = []
    for setting in settings or [{}]:
        if config is not None:
            for key, value in setting.items():
                setattr(gallery.searcher().config, key, value)
        latencies(gallery, probes[:3], k)  # warm-up
        times, found = latencies(gallery, probes, k)
        row = {"kind": backend, **setting, "build_s": round(build_s, 1), "recall_at_10": round(recall(found, truth), 4),
               "p50_ms": round(pct(times, 50), 3), "p99_ms": round(pct(times, 99), 3),
               "mean_ms": round(statistics.fmean(times), 3), "index_mib": round(index_bytes(gallery) / 2**20, 1),
               "rss_anon_growth_mib": round(rss_anon_mib() - base, 1), "load": round(os.getloadavg()[0], 2)}  # fmt: skip
        print(json.dumps(row), flush=True)
        out.append(row)
    del gallery
    set_threads(BUILD_THREADS)
    return out


def set_threads(n: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)


PLAN: dict[str, tuple[AnnConfig | None, list[dict[str, int]]]] = {
    "faiss": (None, []),
    "ivfpq": (AnnConfig(kind="ivfpq"), [{"nprobe": p, "shortlist": s} for p in (16, 32, 64) for s in (100, 200)]),
    "hnsw": (AnnConfig(kind="hnsw"), [{"ef_search": e} for e in (64, 128)]),
    "int8": (AnnConfig(kind="int8"), [{"shortlist": 100}]),
    "binary": (AnnConfig(kind="binary"), [{"shortlist": s} for s in (500, 2000)]),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1_000_000])
    p.add_argument("--kinds", nargs="*", default=list(PLAN), choices=list(PLAN))
    p.add_argument("--sentences", type=int, default=4_000, help="real sentences encoded (the identities' topics)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--topic-noise", type=float, default=0.75, help="noise norm of an identity around its sentence")
    p.add_argument("--noise", type=float, default=0.5, help="noise norm of an example around its identity")
    p.add_argument("--work", default="/tmp/pairsim_gallery_ann", help="folder for the memory-mapped rows")
    p.add_argument("--json")
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    set_threads(BUILD_THREADS)
    env = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
           "load_start": os.getloadavg(), "command": " ".join(["python", *sys.argv]), "seeds": [0, 1, 2],
           "model": "all-MiniLM-L6-v2", "dim": 384}  # fmt: skip
    print(json.dumps(env), flush=True)
    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    real = real_embeddings(work / f"real_{args.sentences}.npy", args.sentences)
    k = 10
    results: list[dict[str, Any]] = []
    # real rows only: held-out real sentences searched among the others
    held = len(real) // 20
    real_rows, real_probes = torch.from_numpy(real[held:]), torch.from_numpy(real[:held][: args.queries])
    truth = exact_top(real[held:], real[:held][: args.queries], k)
    for kind in [k for k in ("faiss", "hnsw", "ivfpq") if k in args.kinds]:
        for row in run_kind(real_rows, ["s"] * len(real_rows), real_probes, truth, kind, *PLAN[kind][:1],
                            PLAN[kind][1][:2], k, head):  # fmt: skip
            results.append({"rows": len(real_rows), "data": "real", **row})
    for n in args.sizes:
        t0 = time.perf_counter()
        ids = identities(real, n, args.topic_noise, seed=0)
        rows_np = clustered_rows(work / f"rows_{n}.npy", ids, n, args.noise, seed=1)
        probes_np = around(ids, np.random.default_rng(2).integers(0, len(ids), args.queries), args.noise,
                           np.random.default_rng(3))  # fmt: skip
        truth = exact_top(rows_np, probes_np, k)
        print(f"{n} rows generated and exact top-{k} found in {time.perf_counter() - t0:.0f} s", flush=True)
        rows, probes = torch.from_numpy(rows_np), torch.from_numpy(probes_np)  # rows: memory-mapped
        names = [f"c{i}" for i in range(n)]
        for kind in args.kinds:
            config, settings = PLAN[kind]
            for row in run_kind(rows, names, probes, truth, kind, config, settings, k, head):
                results.append({"rows": n, "data": "clustered", **row})
        exact = {r["rows"]: r["p50_ms"] for r in results if r["kind"] == "faiss"}
        for r in results:
            r["speedup_vs_exact_p50"] = round(exact[r["rows"]] / r["p50_ms"], 1) if r["rows"] in exact else None
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            env["load_end"] = os.getloadavg()
            Path(args.json).write_text(json.dumps({"env": env, "rows": results}, indent=1))
        del rows, rows_np
        (work / f"rows_{n}.npy").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
