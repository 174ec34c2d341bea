"""``pairsim encode INPUTS --model DIR --out FILE.safetensors|.npy``."""

from __future__ import annotations

import argparse
from pathlib import Path

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
from pairsim.cli.inputs import output_file
from pairsim.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="write embeddings of a list of inputs",
                       description="Embed one input (text or image path) per line.")  # fmt: skip
    p.add_argument("inputs", help="file with one input per line")
    p.add_argument(
        "--model",
        required=True,
        help="saved model directory or hub id, or a Hugging Face / sentence-transformers encoder directory or hub id",
    )
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="onnx: --model is an ONNX export")
    p.add_argument(
        "--out",
        required=True,
        help="output file: .safetensors (key 'embeddings') or .npy; replaced "
        "atomically, a symbolic link is followed to its regular file, anything else is refused; not - "
        "(binary)",
    )
    p.add_argument("--side", choices=["a", "b"], default="a", help="which tower encodes (untied models)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per encoding batch")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda, ...")
    add_strict_text(p)
    add_truncate_dim(p)
    p.set_defaults(run=run)


def save_embeddings(embeddings, path: Path) -> None:
    """Write ``(N, D)`` embeddings as safetensors (key ``embeddings``) or .npy, atomically."""
    import numpy as np
    from safetensors.torch import save_file

    _check_out(path)
    from pairsim.safe_io import atomic_write

    if path.suffix == ".npy":
        atomic_write(path, lambda tmp: np.save(tmp, embeddings.numpy()), suffix=".npy", what="--out")
    else:
        atomic_write(path, lambda tmp: save_file({"embeddings": embeddings.contiguous()}, tmp), what="--out")


def _check_out(path: str | Path) -> Path:
    """The ``--out`` path, checked before any work: a .safetensors or .npy file name under the output-path policy.

    Raises:
        DataError: ``-`` (embeddings are binary) or a path that cannot be written as a file.
        ConfigError: Another suffix.
    """
    out = output_file(path, binary="embeddings (.safetensors or .npy)")
    assert out is not None  # binary outputs refuse -
    if out.suffix not in (".safetensors", ".npy"):
        raise ConfigError(f"--out {out}: expected a .safetensors or .npy file name")
    return out


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.inputs import read_lines
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.device import pick_device

    items = read_lines(args.inputs)
    out = _check_out(args.out)
    model, _ = load_model_arg(
        args.model,
        backend=args.backend,
        device=str(pick_device(args.device, where="--device")),
        allow_unverified=args.allow_unverified,
        threads=runtime_threads(args),
    )
    apply_truncate_dim(model, args)
    tower = model.tower_a if args.side == "a" else model.side_b
    if tower.gives != "embeddings":  # a cross-encoder's side is token ids, read only with the other side
        raise ConfigError(f"{args.model}: a cross-encoder reads both texts together and gives no embeddings; use "
                          "pairsim score (pairs) or pairsim rerank")  # fmt: skip
    tower.check_items(items, where=args.inputs, lines=True)
    embeddings, index = model.encode_unique(
        items, side=args.side, batch_size=args.batch_size, where=args.inputs, lines=True, strict_text=args.strict_text
    )  # (U, D), (N,)
    save_embeddings(embeddings[index], out)
    print(f"{len(items)} embeddings of size {model.embedding_dim} written to {out}")
    return 0
