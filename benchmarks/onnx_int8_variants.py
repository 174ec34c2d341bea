"""Raw-graph A/B of MiniLM ONNX variants (unfused / fused, int8 op lists, per-channel, reduce_range): STS-B test
Spearman and texts/s, alternating in one process (RESULTS.md, issue 27's ONNX speed slice).

Expects the graphs in /tmp/onnxspeed (fp32/ and fp32e/ from export_onnx with sdpa / eager tracing, opte.onnx from
onnxruntime.transformers.optimizer); usage: ``python benchmarks/onnx_int8_variants.py N_TEXTS REPEATS [--quality]``.
"""

import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from scipy.stats import spearmanr
from transformers import AutoTokenizer

D = "/tmp/onnxspeed"
orig, eager, fused = f"{D}/fp32/tower_a.onnx", f"{D}/fp32e/tower_a.onnx", f"{D}/opte.onnx"
SHIP = ["MatMul", "Attention", "LSTM", "Gather", "EmbedLayerNormalization", "Transpose"]


def q(src, dst, **kw):
    if not os.path.exists(dst):
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": 1}, **kw)
    return dst


variants = {
    "fp32 sdpa (before)": orig,
    "fp32 eager unfused": eager,
    "fp32 fused": fused,
    "int8 sdpa all (before)": q(orig, f"{D}/q_orig.onnx"),
    "int8 eager unfused ship": q(eager, f"{D}/q_eager_ship.onnx", op_types_to_quantize=SHIP),
    "int8 fused ship": q(fused, f"{D}/q_ship.onnx", op_types_to_quantize=SHIP),
    "int8 fused noatt": q(fused, f"{D}/q_noatt.onnx", op_types_to_quantize=[o for o in SHIP if o != "Attention"]),
    "int8 fused MatMul": q(fused, f"{D}/q_opt_mm.onnx", op_types_to_quantize=["MatMul"]),
    "int8 fused MatMul+Att": q(fused, f"{D}/q_mm_att.onnx", op_types_to_quantize=["MatMul", "Attention"]),
    "int8 fused ship pc": q(fused, f"{D}/q_ship_pc.onnx", op_types_to_quantize=SHIP, per_channel=True),
    "int8 fused ship rr": q(fused, f"{D}/q_ship_rr.onnx", op_types_to_quantize=SHIP, reduce_range=True),
}
only = os.environ.get("ONLY")
if only:
    variants = {k: v for k, v in variants.items() if any(o in k for o in only.split(","))}
tok = AutoTokenizer.from_pretrained("/work/shared/models/all-MiniLM-L6-v2")
with open("/work/shared/data/stsbenchmark/sts-test.csv", encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t") for line in f]
rows = [r for r in rows if len(r) >= 7]
gold = [float(r[4]) for r in rows]
uniq = list(dict.fromkeys([r[5] for r in rows] + [r[6] for r in rows]))


def batches(texts):
    texts = sorted(texts, key=len, reverse=True)
    return texts, [
        dict(tok(texts[i : i + 64], padding=True, truncation=True, max_length=256, return_tensors="np"))
        for i in range(0, len(texts), 64)
    ]


so = ort.SessionOptions()
so.intra_op_num_threads = 2
sess = {k: ort.InferenceSession(v, so, providers=["CPUExecutionProvider"]) for k, v in variants.items()}


def enc(s, bs):
    names = [i.name for i in s.get_inputs()]
    return np.concatenate([s.run(None, {n: b[n] for n in names})[0] for b in bs])


N = int(sys.argv[1])
REPS = int(sys.argv[2])
bench_texts, bench_b = batches(uniq[:N])
if "--quality" in sys.argv:
    all_texts, all_b = batches(uniq)
    ref = None
    for k, s in sess.items():
        e = enc(s, all_b)
        pos = {t: i for i, t in enumerate(all_texts)}
        a = e[[pos[r[5]] for r in rows]]
        b = e[[pos[r[6]] for r in rows]]
        sp = 100 * spearmanr((a * b).sum(1), gold).statistic
        if ref is None:
            ref = e
        print(
            f"{k:26s} STS-B x100 {sp:.2f}  min cos vs first {float((e * ref).sum(1).min()):.4f}  size {os.path.getsize(variants[k]) / 1e6:.1f} MB",
            flush=True,
        )
times = {k: [] for k in sess}
print("load before", os.getloadavg(), flush=True)
for rep in range(REPS):
    for k in list(sess) if rep % 2 == 0 else list(sess)[::-1]:
        t = time.perf_counter()
        enc(sess[k], bench_b)
        times[k].append(time.perf_counter() - t)
for k, v in times.items():
    print(
        f"{k:26s} best {len(bench_texts) / min(v):8.1f} median {len(bench_texts) / statistics.median(v):8.1f} texts/s"
    )
print("load after", os.getloadavg())
