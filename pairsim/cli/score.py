"""``pairsim score a.txt b.txt --model DIR [--top-k K] [--out FILE|-]``: TSV rows (see :mod:`pairsim.cli.tsv`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from pairsim.cli.args import (
    add_allow_unverified,
    add_strict_text,
    add_threads,
    add_truncate_dim,
    apply_truncate_dim,
    device_name,
    positive_int,
    runtime_threads,
)
from pairsim.cli.inputs import output_file, text_output
from pairsim.cli.tsv import tsv_line
from pairsim.errors import DataError

if TYPE_CHECKING:
    import torch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score line i of A with line i of B (or rank all of B for each line of A)",
        description="Each line is a text or an image path, whatever the model's towers take. Output: TSV with "
        "the score and same/different at the model's stored threshold. Repeated lines are encoded once.",
    )
    p.add_argument("a", help="file with one side-a input per line")
    p.add_argument("b", help="file with one side-b input per line")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="onnx: --model is an ONNX export")
    p.add_argument(
        "--model",
        required=True,
        help="saved model directory or hub id, or a Hugging Face / sentence-transformers encoder directory or hub id",
    )
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    p.add_argument("--top-k", type=positive_int, help="rank every line of B for each line of A and keep the K best")
    p.add_argument(
        "--out",
        help="write the TSV to this file (replaced atomically; a symbolic link is followed to "
        "the regular file it points to; anything else at the path is refused), or - for stdout (default)",
    )
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per encoding batch")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda, ...")
    add_strict_text(p)
    add_truncate_dim(p)
    p.set_defaults(run=run)


def _pairwise(
    model, a: torch.Tensor, ia: torch.Tensor, b: torch.Tensor, ib: torch.Tensor, f: TextIO, chunk: int = 65536
) -> None:
    """Score pair i as head(a[ia[i]], b[ib[i]]), gathering rows chunk by chunk (distinct embeddings only)."""
    import torch

    from pairsim.scoring import check_finite

    threshold = model.config.threshold
    f.write(tsv_line("score", "same") if threshold is not None else tsv_line("score"))
    for start in range(0, ia.shape[0], chunk):
        with torch.inference_mode():
            s = model.head(a[ia[start : start + chunk]], b[ib[start : start + chunk]])  # (c,)
        check_finite(s, what="pair of line", names=lambda j: str(start + j + 1))  # noqa: B023 (used at once)
        if threshold is None:
            f.writelines(tsv_line(f"{v:.6f}") for v in s.tolist())
        else:
            same = model.head.is_similar(s, threshold).tolist()
            f.writelines(
                tsv_line(f"{v:.6f}", "same" if d else "different") for v, d in zip(s.tolist(), same, strict=True)
            )


def _top_k(model, a: torch.Tensor, b: torch.Tensor, k: int, f: TextIO, chunk: int = 1024) -> None:
    import torch

    from pairsim.scoring import check_finite

    threshold = model.config.threshold
    f.write(tsv_line("a_line", "rank", "b_line", "score", *(["same"] if threshold is not None else [])))
    k = min(k, b.shape[0])
    for start in range(0, a.shape[0], chunk):
        with torch.inference_mode():
            sim = model.head.matrix(a[start : start + chunk], b)  # (c, Nb)
        check_finite(sim, what="scores of line", names=lambda j: f"{start + j + 1} of A", kind="score")  # noqa: B023
        values, index = sim.topk(k, dim=1, largest=model.head.higher_is_similar)  # (c, k)
        for row in range(values.shape[0]):
            for rank in range(k):
                v = float(values[row, rank])
                fields = [start + row + 1, rank + 1, int(index[row, rank]) + 1, f"{v:.6f}"]
                if threshold is not None:
                    fields.append("same" if model.head.is_similar(torch.tensor(v), threshold) else "different")
                f.write(tsv_line(*fields))


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.inputs import read_lines, resolve_lines
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.device import pick_device

    items_a, items_b = read_lines(args.a), read_lines(args.b)
    if not args.top_k and len(items_a) != len(items_b):
        raise DataError(
            f"{args.a} has {len(items_a)} lines but {args.b} has {len(items_b)}: pairwise scoring needs equal counts "
            "(or use --top-k to rank every line of B for each line of A)"
        )
    if args.out:
        output_file(args.out)  # before the model loads and the inputs are encoded (- is stdout)
    model, _ = load_model_arg(
        args.model,
        backend=args.backend,
        device=str(pick_device(args.device, where="--device")),
        allow_unverified=args.allow_unverified,
        threads=runtime_threads(args),
    )
    apply_truncate_dim(model, args)
    items_a = resolve_lines(items_a, args.a, model.tower_a.modality)  # image paths: against the file's folder
    items_b = resolve_lines(items_b, args.b, model.side_b.modality)
    model.tower_a.check_items(items_a, where=args.a, lines=True)
    model.side_b.check_items(items_b, where=args.b, lines=True)
    model.strict_text = args.strict_text  # empty / unknown-word lines: one warning per file, or an error
    a, ia = model.encode_unique(
        items_a, side="a", batch_size=args.batch_size, where=args.a, lines=True
    )  # (Ua, D), (Na,)
    b, ib = model.encode_unique(
        items_b, side="b", batch_size=args.batch_size, where=args.b, lines=True
    )  # (Ub, D), (Nb,)
    model.head.cpu()
    with text_output(args.out) as f:
        if args.top_k:
            _top_k(model, a[ia], b[ib], args.top_k, f)  # ranks report line numbers, so rows follow the lines
        else:
            _pairwise(model, a, ia, b, ib, f)
    return 0
