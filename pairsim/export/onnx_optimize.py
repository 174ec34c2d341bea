"""Making an exported tower graph faster in onnxruntime: transformer fusions, then int8 matrix products.

* :func:`fuse` runs onnxruntime's transformer optimizer on a graph whose tower declares it
  (:meth:`~pairsim.towers.Tower.onnx_fusion`): attention, embedding + LayerNorm, residual + LayerNorm and
  bias + GELU become single onnxruntime kernels. The fused graph is kept only if it gives the unfused graph's
  output on the tracing sample (within :data:`FUSED_TOLERANCE`); fused graphs need onnxruntime (contrib ops).
* :func:`quantize_int8` quantizes the weights of the matrix products and embedding tables
  (:data:`QUANTIZED_OPS`), dynamic int8: convolutions stay float32, since onnxruntime's integer convolutions run far slower than float32 on
  CPUs (EfficientNet-Lite0: 1.6 vs 14.4 images/s measured, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FUSED_TOLERANCE = 1e-4  # largest |output difference| between the fused and the unfused graph on the sample
# the operators whose weights int8 export quantizes: onnxruntime's dynamic-quantization operators except Conv
# (ConvInteger runs ~10x slower than float32 convolution on CPUs) and Attention (a fused attention's int8 input
# projection cost MiniLM 0.2 STS-B points for no measurable speed): matrix products, LSTMs, and embedding tables
# (Gather, EmbedLayerNormalization: smaller files, looked-up rows only)
QUANTIZED_OPS = ("MatMul", "LSTM", "Gather", "EmbedLayerNormalization", "Transpose")
# the operators a quantized graph computes in integers (counted to report what int8 changed)
INTEGER_OPS = frozenset(
    {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention", "DynamicQuantizeLSTM", "QEmbedLayerNormalization",
     "ConvInteger"}
)  # fmt: skip


def run_graph(model: str | bytes, feed: Mapping[str, np.ndarray]) -> np.ndarray:
    """The first output of the graph ``model`` (a path or serialized bytes) on ``feed``, with onnxruntime on the CPU.

    Raises:
        ValueError: The graph's inputs are not exactly ``feed``'s names (the runtime feeds every one of them).
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if sorted(names) != sorted(feed):
        raise ValueError(f"the graph takes {names}, not {sorted(feed)}")
    return session.run(None, {name: feed[name] for name in names})[0]


def fuse(path: Path, spec: Mapping[str, Any], feed: Mapping[str, np.ndarray]) -> bool:
    """Replace the graph at ``path`` by onnxruntime's transformer-fused form of it, if that gives the same output.

    Args:
        path: An exported graph (float32), replaced in place when the fusion is kept.
        spec: The tower's :meth:`~pairsim.towers.Tower.onnx_fusion`: ``model_type``, ``num_heads``,
            ``hidden_size`` (the arguments of ``onnxruntime.transformers.optimizer.optimize_model``).
        feed: The tracing sample, inputs by name (both graphs run on it).

    Returns:
        True when the fused graph was kept; False when the optimizer found nothing to fuse, failed, changed the
        graph's inputs, or changed the output by more than :data:`FUSED_TOLERANCE` (the unfused graph stays).

    Example:
        >>> fuse(Path("out/tower_a.onnx"), {"model_type": "bert", "num_heads": 12, "hidden_size": 384}, feed)  # doctest: +SKIP
        True
    """
    from onnxruntime.transformers import optimizer

    try:
        fused = optimizer.optimize_model(
            str(path), model_type=str(spec["model_type"]), num_heads=int(spec["num_heads"]),
            hidden_size=int(spec["hidden_size"]), opt_level=0, use_gpu=False,
        )  # fmt: skip
    except Exception as err:  # the optimizer raises whatever its pattern code hits; the plain graph still works
        log.info("ONNX export: transformer fusion skipped (%s)", " ".join(str(err).split()))
        return False
    if not any(fused.get_fused_operator_statistics().values()):
        return False
    tmp = path.with_name(f"{path.stem}.fused.onnx")
    fused.save_model_to_file(str(tmp))
    try:
        difference = float(np.abs(run_graph(str(tmp), feed) - run_graph(str(path), feed)).max())
    except Exception as err:  # a fused graph onnxruntime cannot run, or with other inputs, is not kept
        log.info("ONNX export: transformer fusion skipped (%s)", " ".join(str(err).split()))
        difference = float("inf")
    if not difference <= FUSED_TOLERANCE:
        tmp.unlink()
        return False
    os.replace(tmp, path)
    return True


def quantize_int8(path: Path) -> dict[str, int]:
    """Replace the graph at ``path`` by its dynamic int8 quantization of :data:`QUANTIZED_OPS` (weights int8
    per tensor, activations quantized at run time); convolutions stay float32.

    Returns:
        ``{"quantized": n, "float_convolutions": m}``: the integer operators in the new graph, and the
        convolutions left in float32 (a convolutional tower gets a warning line: int8 does little for it).

    Example:
        >>> quantize_int8(Path("out/tower_a.onnx"))  # doctest: +SKIP
        {'quantized': 30, 'float_convolutions': 0}
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path.with_name(f"{path.stem}.int8.onnx")
    quantize_dynamic(
        str(path), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=list(QUANTIZED_OPS),
        # fused graphs hold onnxruntime's contrib ops, which ONNX shape inference cannot type: float32 tensors
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )  # fmt: skip
    os.replace(tmp, path)
    ops = [node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node]
    counts = {"quantized": sum(op in INTEGER_OPS for op in ops), "float_convolutions": ops.count("Conv")}
    if counts["float_convolutions"]:
        log.warning(
            "ONNX export --quantize int8: %s keeps its %d convolutions in float32 (onnxruntime's int8 convolutions "
            "run slower than float32 on CPUs); %d matrix products quantized",
            path.name, counts["float_convolutions"], counts["quantized"],
        )  # fmt: skip
    return counts
