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

``--chunked`` (galleries larger than memory, :mod:`gallery_ann_chunked`): the rows are generated chunk by
chunk into a memory-mapped file under ``--work`` (kept and reused: delete it yourself), the exact search is a
scan of the file in 1M-row blocks (its speed: each probe alone, one thread, summed over the in-memory blocks),
the ``faiss`` kind (a flat index in memory) is not built, ``--on-disk`` also searches the IVF-PQ index written
to pairsim's index file and reopened memory-mapped, and ``--hnsw-sq8-budget S`` tries FAISS ``HNSW32,SQ8``
for at most S seconds of build. Every row records the peak anonymous RSS of its build and searches.

Run from the repository root (2 shared cores; ~15 min at 1M, ~35 min at 3M)::

    OMP_NUM_THREADS=2 nice -n 5 python benchmarks/gallery_ann.py --sizes 1000000 --json benchmarks/results/gallery_ann_1m.json
    OMP_NUM_THREADS=2 python benchmarks/gallery_ann.py --chunked --sizes 10000000 --kinds ivfpq binary \\
        --train-rows 262144 --on-disk --work runs/gallery10m --json benchmarks/results/gallery_ann_10m.json
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gallery_ann_chunked import PeakAnon, chunked_probes, chunked_rows, exact_chunked, hnsw_sq8, reopen_on_disk

from pairsim.heads import HEADS
from pairsim.search import GalleryIndex
from pairsim.search.ann import AnnConfig, AnnSearch

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
    config: AnnConfig | None, settings: list[dict[str, int]], k: int, head: Any, on_disk: Path | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Build ``backend`` over ``rows``, search ``probes`` at each setting; with ``on_disk`` (ivfpq) also write the
    index there, reopen it memory-mapped and search it again at the first setting."""
    config = dataclasses.replace(config) if config is not None else None  # settings below change this copy
    base = rss_anon_mib()
    PEAK.reset()
    TRAIN_S[0] = 0.0
    t0 = time.perf_counter()
    gallery = GalleryIndex(names, rows, head=head, backend=backend, ann=config)  # type: ignore[arg-type]
    gallery.searcher()
    build_s = time.perf_counter() - t0
    peak_build, size = PEAK.peak, index_bytes(gallery)  # size: once, after the build's peak (it serialises)
    PEAK.reset()
    set_threads(1)  # one probe at a time: one thread (no OpenMP team to gather on a shared machine)
    out = []
    for setting in settings or [{}]:
        if config is not None:
            for key, value in setting.items():
                setattr(gallery.searcher().config, key, value)
        latencies(gallery, probes[:3], k)  # warm-up
        times, found = latencies(gallery, probes, k)
        row = {"kind": backend, **setting, "build_s": round(build_s, 1), "train_s": round(TRAIN_S[0], 1),
               "recall_at_10": round(recall(found, truth), 4), "p50_ms": round(pct(times, 50), 3),
               "p99_ms": round(pct(times, 99), 3), "mean_ms": round(statistics.fmean(times), 3),
               "index_mib": round(size / 2**20, 1), "rss_anon_growth_mib": round(rss_anon_mib() - base, 1),
               "peak_anon_mib": round(max(peak_build, PEAK.peak), 1), "load": round(os.getloadavg()[0], 2)}  # fmt: skip
        print(json.dumps(row), flush=True)
        out.append(row)
    if on_disk is not None and backend == "ivfpq":
        reopen_s, size = reopen_on_disk(gallery, on_disk)
        for key, value in (settings or [{}])[0].items():
            setattr(gallery.searcher().config, key, value)
        base_disk = rss_anon_mib()
        latencies(gallery, probes[:3], k)
        times, found = latencies(gallery, probes, k)
        row = {**out[0], "on_disk": True, "reopen_s": round(reopen_s, 1), "recall_at_10": round(recall(found, truth), 4),
               "p50_ms": round(pct(times, 50), 3), "p99_ms": round(pct(times, 99), 3),
               "mean_ms": round(statistics.fmean(times), 3), "index_mib": round(size / 2**20, 1),
               "rss_anon_growth_mib": round(rss_anon_mib() - base_disk, 1), "load": round(os.getloadavg()[0], 2)}  # fmt: skip
        row.pop("peak_anon_mib")
        print(json.dumps(row), flush=True)
        out.append(row)
        on_disk.unlink()
    del gallery
    set_threads(BUILD_THREADS)
    return out


def set_threads(n: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)


KINDS = ("faiss", "ivfpq", "hnsw", "int8", "binary")
PEAK = PeakAnon()
TRAIN_S = [0.0]  # seconds spent training new indexes (the rest of a build is adding the rows)
_new_index = AnnSearch._new_index


def _timed_new_index(self: AnnSearch, rows: torch.Tensor) -> Any:
    t0 = time.perf_counter()
    index = _new_index(self, rows)
    TRAIN_S[0] += time.perf_counter() - t0
    return index


AnnSearch._new_index = _timed_new_index  # type: ignore[method-assign]  # build time = training + adding


def plan(nlist: int = 0, train_rows: int = 100_000) -> dict[str, tuple[AnnConfig | None, list[dict[str, int]]]]:
    """Each kind's configuration and the search settings tried (ivfpq: ``nlist``, ``train_rows`` as given)."""
    ivf = AnnConfig(kind="ivfpq", nlist=nlist, train_rows=train_rows)
    return {
        "faiss": (None, []),
        "ivfpq": (ivf, [{"nprobe": p, "shortlist": s} for p in (16, 32, 64) for s in (100, 200)]),
        "hnsw": (AnnConfig(kind="hnsw"), [{"ef_search": e} for e in (64, 128)]),
        "int8": (AnnConfig(kind="int8"), [{"shortlist": 100}]),
        "binary": (AnnConfig(kind="binary"), [{"shortlist": s} for s in (500, 2000)]),
    }


def run_chunked(
    args: argparse.Namespace,
    real: np.ndarray,
    n: int,
    head: Any,
    work: Path,
    save: Callable[[list[dict[str, Any]]], None],
) -> list[dict[str, Any]]:
    """``--chunked`` at ``n`` rows: the rows on disk, exact search by a blocked scan, then each ANN kind
    (``save`` gets the rows so far after each step, so a run stopped early keeps what finished)."""
    k, t0 = 10, time.perf_counter()
    path = work / f"rows_chunked_{n}_{len(real)}_{args.topic_noise}_{args.noise}.npy"
    reused = path.is_file()
    rows_np = chunked_rows(path, real, n, args.topic_noise, args.noise, PER_IDENTITY)
    probes_np = chunked_probes(real, n, args.queries, args.topic_noise, args.noise, PER_IDENTITY)
    print(f"{n} rows {'reused' if reused else 'generated'} in {time.perf_counter() - t0:.0f} s", flush=True)
    PEAK.reset()
    t0 = time.perf_counter()
    earlier = exact_row_from(args.exact_from, n)
    truth, timing = exact_chunked(rows_np, probes_np, k, 0 if earlier else args.exact_timed, BUILD_THREADS)
    single = timing["single_ms"] or [float("nan")]
    out = [{"rows": n, "data": "clustered", "kind": "exact", "mode": "flat scan of in-memory 1M-row blocks, 1 thread",
            "build_s": 0.0, "recall_at_10": 1.0, "p50_ms": round(pct(single, 50), 3), "p99_ms": round(pct(single, 99), 3),
            "mean_ms": round(statistics.fmean(single), 3), "timed_probes": len(single),
            "batched_ms_per_probe": round(timing["batch_s"] / len(probes_np) * 1000, 3),
            "read_s": round(timing["read_s"], 1), "wall_s": round(time.perf_counter() - t0, 1),
            "index_mib": round(rows_np.nbytes / 2**20, 1), "rows_file_reused": reused,
            "peak_anon_mib": round(PEAK.peak, 1), "load": round(os.getloadavg()[0], 2)}]  # fmt: skip
    if earlier:  # the single-probe timing of an earlier run on the same rows and probes (a prefix of its probes)
        out[0] |= {key: earlier[key] for key in ("p50_ms", "p99_ms", "mean_ms", "timed_probes")}
        out[0] |= {"timing_from": f"{args.exact_from} ({earlier['date']}, load {earlier['load']})"}
    print(json.dumps(out[0]), flush=True)
    save(out)
    rows, probes = torch.from_numpy(rows_np), torch.from_numpy(probes_np)  # rows: memory-mapped
    names = ["c"] * n  # names play no part in search; 10M distinct ones would take ~700 MB
    for kind in args.kinds:
        if kind == "faiss":
            continue  # a flat index holds the rows in memory: the blocked scan above is the exact search
        config, settings = plan(args.nlist, args.train_rows)[kind]
        on_disk = work / f"ivfpq_{n}.faiss" if args.on_disk else None
        for row in run_kind(rows, names, probes, truth, kind, config, settings, k, head, on_disk):
            out.append({"rows": n, "data": "clustered", **row})
        save(out)
    if args.hnsw_sq8_budget:
        PEAK.reset()
        gallery, info = hnsw_sq8(rows_np, names, head, args.hnsw_sq8_budget, ef_search=128)
        row = {"rows": n, "data": "clustered", "kind": "hnsw_sq8", "ef_search": 128, **info}
        if gallery is not None:
            set_threads(1)
            latencies(gallery, probes[:3], k)
            times, found = latencies(gallery, probes, k)
            set_threads(BUILD_THREADS)
            row |= {"recall_at_10": round(recall(found, truth), 4), "p50_ms": round(pct(times, 50), 3),
                    "p99_ms": round(pct(times, 99), 3), "mean_ms": round(statistics.fmean(times), 3)}  # fmt: skip
            del gallery
        row |= {"peak_anon_mib": round(PEAK.peak, 1), "load": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def exact_row_from(path: str | None, n: int) -> dict[str, Any] | None:
    """The exact row of ``n`` rows in an earlier ``--json`` file (with that run's date), or None."""
    if not path:
        return None
    data = json.loads(Path(path).read_text())
    rows = [r for r in data["rows"] if r["rows"] == n and r["kind"] == "exact"]
    return {**rows[0], "date": data["env"]["date"]} if rows else None


def write_results(path: str | None, env: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """Add each row's speed-up over the exact search of its size, and write everything to ``path`` (if given)."""
    exact = {r["rows"]: r["p50_ms"] for r in results if r["kind"] in ("faiss", "exact")}
    for r in results:
        fast = r["rows"] in exact and r.get("p50_ms")
        r["speedup_vs_exact_p50"] = round(exact[r["rows"]] / r["p50_ms"], 1) if fast else None
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        env["load_end"] = os.getloadavg()
        env["vm_hwm_mib"] = vm_hwm_mib()
        Path(path).write_text(json.dumps({"env": env, "rows": results}, indent=1))


def vm_hwm_mib() -> float:
    """Peak resident set (anonymous and file-backed pages, memory-mapped rows included), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1_000_000])
    p.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    p.add_argument("--sentences", type=int, default=4_000, help="real sentences encoded (the identities' topics)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--topic-noise", type=float, default=0.75, help="noise norm of an identity around its sentence")
    p.add_argument("--noise", type=float, default=0.5, help="noise norm of an example around its identity")
    p.add_argument("--work", default="/tmp/pairsim_gallery_ann", help="folder for the memory-mapped rows")
    p.add_argument("--json")
    p.add_argument("--chunked", action="store_true", help="rows on disk, generated and scanned in chunks (10M+)")
    p.add_argument("--nlist", type=int, default=0, help="ivfpq lists (0: pairsim's default, sqrt(rows))")
    p.add_argument("--train-rows", type=int, default=100_000, help="ivfpq training sample")
    p.add_argument("--exact-timed", type=int, default=30, help="--chunked: probes timed alone by the exact scan")
    p.add_argument("--exact-from", help="--chunked: take the exact single-probe timing from this earlier --json")
    p.add_argument("--on-disk", action="store_true", help="--chunked: also search ivfpq reopened memory-mapped")
    p.add_argument("--hnsw-sq8-budget", type=float, default=0, help="--chunked: build seconds for HNSW32,SQ8 (0: no)")
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
        config, settings = plan(0, args.train_rows)[kind]
        for row in run_kind(real_rows, ["s"] * len(real_rows), real_probes, truth, kind, config, settings[:2], k, head):
            results.append({"rows": len(real_rows), "data": "real", **row})
    for n in args.sizes:
        if args.chunked:
            done = list(results)
            results = done + run_chunked(
                args, real, n, head, work, lambda rows, done=done: write_results(args.json, env, done + rows)
            )
            write_results(args.json, env, results)
            continue
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
            config, settings = plan(args.nlist, args.train_rows)[kind]
            for row in run_kind(rows, names, probes, truth, kind, config, settings, k, head):
                results.append({"rows": n, "data": "clustered", **row})
        write_results(args.json, env, results)
        del rows, rows_np
        (work / f"rows_{n}.npy").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
