"""``pairsim export MODEL --format onnx|sentence-transformers --out DIR [--quantize int8] [--no-optimize]``."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_allow_unverified, add_threads, add_truncate_dim, apply_truncate_dim


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a saved model to ONNX (one graph per tower) or sentence-transformers",
        description="onnx: each distinct tower becomes OUT/tower_a.onnx (tower_b.onnx when untied), preprocessed inputs "
        "-> embeddings, with head.json (kind, direction, threshold, parameters) and the tokenizer files beside it; "
        "run it with `pairsim score/encode --backend onnx --model OUT`. sentence-transformers: a directory "
        "SentenceTransformer(OUT) loads (tied transformer models only).",
    )
    p.add_argument(
        "model",
        help="saved model directory or hub id, or a Hugging Face / sentence-transformers encoder "
        "directory or hub id (exported as a tied transformer tower with a cosine head)",
    )
    p.add_argument("--format", required=True, choices=["onnx", "sentence-transformers"], dest="fmt")
    p.add_argument("--out", required=True, help="output folder (created, or replaced as a whole)")
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="onnx: int8 dynamic quantization for CPU of the matrix products and embedding tables (convolutions "
        "stay float32: int8 convolutions run slower in onnxruntime)",
    )
    p.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="onnx: standard ONNX operators only; by default transformer graphs are fused into onnxruntime's "
        "kernels (attention, LayerNorm, GELU), which only onnxruntime runs",
    )
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    add_truncate_dim(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.errors import ConfigError

    if args.out == "-":
        raise ConfigError("--out -: export writes a folder, not standard output; give a folder name")
    if args.quantize and args.fmt != "onnx":
        raise ConfigError("--quantize applies to --format onnx only")
    if not args.optimize and args.fmt != "onnx":
        raise ConfigError("--no-optimize applies to --format onnx only")
    model, _ = load_model_arg(args.model, device="cpu", allow_unverified=args.allow_unverified)
    apply_truncate_dim(model, args)
    if args.fmt == "onnx":
        from pairsim.export.onnx import export_onnx

        out = export_onnx(model, args.out, quantize=args.quantize, optimize=args.optimize)
        graphs = "1 graph (tied)" if model.tied else "2 graphs (untied)"
        print(f"exported {graphs}{' int8' if args.quantize else ''} and head.json to {out}")
    else:
        from pairsim.export.sentence_transformers import export_sentence_transformers

        out = export_sentence_transformers(model, args.out)
        print(f"exported a sentence-transformers model to {out}")
    return 0
