"""Bounded load test of ``pairsim serve`` on 127.0.0.1: requests/s and p50 / p99 latency, with and without
the batching window.

A MiniLM pair model (saved once) is served by ``python -m pairsim serve`` in a child process; ``--clients``
threads each send ``--requests`` ``POST /score`` requests (one STS-B test pair each) back to back. Every
batching window in ``--windows`` (ms) is a separate server run.

Run from the repository root (about a minute on 2 CPU cores)::

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/serve_load.py --json benchmarks/results/serve_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pairs(data_dir: Path, n: int) -> list[tuple[str, str]]:
    out = []
    with open(data_dir / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 7:
                out.append((cols[5], cols[6]))
            if len(out) == n:
                break
    return out


def run_load(url: str, work: list[tuple[str, str]], clients: int, requests: int) -> dict[str, Any]:
    def client(k: int) -> list[float]:
        lat = []
        with httpx.Client(timeout=120) as http:
            for i in range(requests):
                a, b = work[(k * requests + i) % len(work)]
                t0 = time.perf_counter()
                r = http.post(f"{url}/score", json={"a": a, "b": b})
                lat.append(time.perf_counter() - t0)
                r.raise_for_status()
        return lat

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(x for lat in pool.map(client, range(clients)) for x in lat)
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "wall_s": wall, "requests_per_s": len(latencies) / wall,
            "p50_ms": 1000 * q[49], "p99_ms": 1000 * q[98]}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--data-dir", default=os.environ.get("PAIRSIM_DATA_DIR") or str(REPO.parent / "shared" / "data"))
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=25, help="per client")
    p.add_argument("--configs", nargs="*", default=["0:1", "0:64", "5:64"],
                   help="WINDOW_MS:MAX_ITEMS batching settings to compare (0:1 = no batching)")  # fmt: skip
    p.add_argument("--json")
    args = p.parse_args()
    from pairsim import PairModel

    work = pairs(Path(args.data_dir), 400)
    model_dir = Path(tempfile.mkdtemp(prefix="pairsim-serve-bench-")) / "model"
    PairModel.from_config({"tower": {"name": "transformer", "model": args.model}, "threshold": 0.5}).save_pretrained(
        model_dir
    )
    env = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "load_at_start": os.getloadavg(),
           "command": " ".join(["python", *sys.argv]), "clients": args.clients, "requests_per_client": args.requests}  # fmt: skip
    print(json.dumps(env), flush=True)
    rows = []
    for setting in args.configs:
        window, max_items = float(setting.split(":")[0]), int(setting.split(":")[1])
        port = free_port()
        cmd = [sys.executable, "-m", "pairsim", "serve", str(model_dir), "--port", str(port), "--device", "cpu",
               "--batch-window-ms", str(window), "--max-batch-items", str(max_items)]  # fmt: skip
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{url}/info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("pairsim serve did not start")
                time.sleep(0.3)
            run_load(url, work, args.clients, 2)  # warm-up
            row = {
                "batch_window_ms": window,
                **run_load(url, work, args.clients, args.requests),
                "load": os.getloadavg(),
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
        rows.append(row)
        print(f"window {window} ms, max {max_items} items: {row['requests_per_s']:.1f} requests/s, p50 {row['p50_ms']:.0f} ms, "
              f"p99 {row['p99_ms']:.0f} ms ({row['requests']} requests, {args.clients} clients; load {row['load'][0]:.2f})",
              flush=True)  # fmt: skip
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
