"""ONNX rows of ``speed.py --only onnx``: encode throughput of the ONNX path (fp32, int8) vs PyTorch vs
``SentenceTransformer.encode`` on the same MiniLM in the same run, an image tower (timm EfficientNet-Lite0)
the same way, and int8's effect on STS-B Spearman (test split, frozen MiniLM).

The ONNX rows are the default export (transformer graphs fused into onnxruntime's kernels); the ``--no-optimize``
rows are the same exports with standard ONNX operators only, so the fusion's effect is measured in the same run.

All sides use the same number of CPU threads (``--threads``, else torch's default) and run alternately
(A B C D, D C B A, ...); best and median runs are kept, as in ``speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
LITE0 = REPO.parent / "shared" / "models" / "efficientnet_lite0" / "model.safetensors"


def alternate(runs: dict[str, Callable[[], Any]], repeats: int, units: int) -> dict[str, dict[str, float]]:
    """Time each run ``repeats`` times, alternating the order; best and median units/s of each."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rep in range(repeats):
        for name in list(runs) if rep % 2 == 0 else list(runs)[::-1]:
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    return {k: {"best": units / min(v), "median": units / statistics.median(v)} for k, v in times.items()}


def bench_onnx(args: argparse.Namespace, texts: list[str], splits: Any, load: Callable[[], str]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from pairsim import PairModel
    from pairsim.export.onnx import export_onnx
    from pairsim.export.onnx_runtime import OnnxPairModel

    threads = torch.get_num_threads()
    work = Path(tempfile.mkdtemp(prefix="pairsim-onnx-bench-"))
    model = PairModel.from_config({"tower": {"name": "transformer", "model": str(args.model)}}).eval()
    st = SentenceTransformer(str(args.model), device="cpu", trust_remote_code=False).eval()
    t0 = time.perf_counter()
    export_onnx(model, work / "fp32")
    export_s = time.perf_counter() - t0
    export_onnx(model, work / "int8", quantize="int8")
    export_onnx(model, work / "int8-plain", quantize="int8", optimize=False)
    fp32, int8 = OnnxPairModel.load(work / "fp32", threads=threads), OnnxPairModel.load(work / "int8", threads=threads)
    int8_plain = OnnxPairModel.load(work / "int8-plain", threads=threads)
    bs = args.batch_sizes[0]
    diff = float((fp32.encode_a(texts[:128]) - model.encode_a(texts[:128])).abs().max())
    runs = {
        "pytorch": lambda: model.encode_a(texts, batch_size=bs),
        "sentence-transformers": lambda: st.encode(texts, batch_size=bs, show_progress_bar=False),
        "onnx fp32": lambda: fp32.encode_a(texts, batch_size=bs),
        "onnx int8": lambda: int8.encode_a(texts, batch_size=bs),
        "onnx int8 --no-optimize": lambda: int8_plain.encode_a(texts, batch_size=bs),
    }
    text_rates = alternate(runs, args.repeats, len(texts))
    out: dict[str, Any] = {
        "threads": threads, "batch_size": bs, "texts": len(texts), "repeats": args.repeats, "export_fp32_s": export_s,
        "max_abs_diff_onnx_fp32_vs_pytorch": diff, "text_per_s": text_rates, "load_text": load(),
    }  # fmt: skip
    st_rate = text_rates["sentence-transformers"]
    out["onnx_int8_vs_sentence_transformers"] = {k: text_rates["onnx int8"][k] / st_rate[k] for k in st_rate}
    print(f"onnx text: {text_rates} ({load()})", flush=True)
    if LITE0.is_file():
        image = PairModel.from_config(
            {"tower": {"name": "timm", "model": "efficientnet_lite0", "weights": str(LITE0), "out_dim": 0}}
        ).eval()
        export_onnx(image, work / "img32")
        export_onnx(image, work / "img8", quantize="int8")
        i32 = OnnxPairModel.load(work / "img32", threads=threads)
        i8 = OnnxPairModel.load(work / "img8", threads=threads)
        faces = sorted(Path(args.data_dir or REPO.parent / "shared" / "data").glob("att_faces/s*/*.pgm"))[
            : args.n_images
        ]
        items = [str(p) for p in faces]
        out["max_abs_diff_image_onnx_fp32_vs_pytorch"] = float(
            (i32.encode_a(items[:16]) - image.encode_a(items[:16])).abs().max()
        )
        out["image_per_s"] = alternate(
            {
                "pytorch": lambda: image.encode_a(items, batch_size=32),
                "onnx fp32": lambda: i32.encode_a(items, batch_size=32),
                "onnx int8": lambda: i8.encode_a(items, batch_size=32),
            },
            args.repeats,
            len(items),
        )
        out.update(images=len(items), image_size=[224, 224], load_image=load())
        print(f"onnx image ({len(items)} AT&T faces at 224x224): {out['image_per_s']} ({load()})", flush=True)
    if args.onnx_quality:
        from scipy.stats import spearmanr

        test = splits.test
        gold = list(test.scores) if getattr(test, "scores", None) is not None else list(test.labels)
        for name, m in (
            ("pytorch", model),
            ("onnx fp32", fp32),
            ("onnx int8", int8),
            ("onnx int8 --no-optimize", int8_plain),
        ):
            s = m.score(list(test.a), list(test.b), batch_size=bs)
            out.setdefault("stsb_test_spearman", {})[name] = 100 * float(spearmanr(s.numpy(), gold).statistic)
        print(f"STS-B test Spearman x100: {out['stsb_test_spearman']} ({len(gold)} pairs)", flush=True)
    return out
