"""``pairsim mine TABLE --model DIR --out mined.csv [-n N] [-k K] [--skip S] [--margin M] [--cross-encoder DIR]``."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from pairsim.cli.args import add_allow_unverified, device_name, positive_int
from pairsim.errors import DataError


def _non_negative_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _number(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mine",
        help="mine hard negatives for (anchor, positive) rows with a bi-encoder (and a cross-encoder filter)",
        description="Reads a .csv/.tsv (header row) or .jsonl table of (anchor, positive[, key]) rows; writes "
        "anchor, positive, negative_1 ... negative_N (and key) to --out (.csv or .jsonl), the layout recipes "
        "read. A negative is never the anchor, one of its positives or an item under its key; rows without N "
        "negatives are dropped and counted.",
    )
    p.add_argument("table", help="the (anchor, positive) rows")
    p.add_argument("--model", required=True, help="bi-encoder: saved pairsim model or sentence-transformers directory")
    p.add_argument("--out", required=True, help="the mined table, .csv or .jsonl (replaced atomically)")
    add_allow_unverified(p)
    p.add_argument("--anchor-column", default="anchor", help="default: anchor")
    p.add_argument("--positive-column", default="positive", help="default: positive")
    p.add_argument("--key-column", help="rows sharing a key are never each other's negatives")
    p.add_argument("--corpus", help="file with one candidate per line (default: the table's distinct positives)")
    p.add_argument("-n", "--num-negatives", type=positive_int, default=1, help="negatives per row (default 1)")
    p.add_argument("-k", "--k", type=positive_int, default=30, help="candidates retrieved per anchor (default 30)")
    p.add_argument("--skip", type=_non_negative_int, default=0, help="top-ranked candidates passed over (default 0)")
    p.add_argument("--margin", type=_number, help="a negative scores at least this much below the positive")
    p.add_argument("--relative-margin", type=_number, help="a negative scores at most (1 - M) x the positive")
    p.add_argument("--cross-encoder", help="saved pairsim model that must also score each negative below the positive")
    p.add_argument("--cross-margin", type=_number, default=0.0, help="by at least this much (default 0)")
    p.add_argument("--search", choices=["auto", "exact", "faiss"], default="auto", help="retrieval search")
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per encoding batch")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda, ...")
    p.set_defaults(run=run)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``.csv`` / ``.tsv`` (header row) or ``.jsonl`` table, as dicts.

    Raises:
        DataError: Missing file, unknown suffix or an unreadable line (named).
    """
    from pairsim.cli.inputs import read_text

    path = Path(path)
    text = read_text(path, what="table")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as err:
                    raise DataError(f"{path}: line {n}: not JSON ({err})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}: line {n}: expected a JSON object")
                rows.append(row)
        return rows
    if suffix not in (".csv", ".tsv"):
        raise DataError(f"{path}: expected a .csv, .tsv or .jsonl table")
    return list(csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))


def _column(rows: list[dict[str, Any]], name: str, path: str) -> list[Any]:
    if rows and name not in rows[0]:
        raise DataError(f"{path}: missing column {name!r}; found columns {list(rows[0])}")
    values = [row.get(name) for row in rows]
    for n, value in enumerate(values, start=1):
        if value is None or not str(value).strip():
            raise DataError(f"{path}: row {n}: empty {name!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.inputs import output_file, read_lines
    from pairsim.device import pick_device
    from pairsim.model import PairModel
    from pairsim.search.mine import mine_negatives, write_table
    from pairsim.search.retrieve import load_encoder

    out = output_file(args.out)
    if out is None or out.suffix.lower() not in (".csv", ".jsonl"):
        raise DataError(f"--out {args.out}: expected a .csv or .jsonl file name")
    rows = read_rows(args.table)
    anchors = [str(v) for v in _column(rows, args.anchor_column, args.table)]
    positives = [str(v) for v in _column(rows, args.positive_column, args.table)]
    keys = _column(rows, args.key_column, args.table) if args.key_column else None
    corpus = read_lines(args.corpus) if args.corpus else None
    device = str(pick_device(args.device, where="--device"))
    model = load_encoder(args.model, device=device)
    cross = None
    if args.cross_encoder:
        cross = PairModel.from_pretrained(args.cross_encoder, device=device, allow_unverified=args.allow_unverified)
    mined, stats = mine_negatives(
        model, anchors, positives, keys=keys, corpus=corpus, num_negatives=args.num_negatives, k=args.k,
        skip=args.skip, margin=args.margin, relative_margin=args.relative_margin, cross_encoder=cross,
        cross_margin=args.cross_margin, backend=args.search, batch_size=args.batch_size,
    )  # fmt: skip
    write_table(mined, out)
    print(f"{stats.rows} rows with {args.num_negatives} negative(s) written to {out}; {stats.dropped_rows} rows "
          f"dropped (too few negatives); candidates removed: {stats.skipped_top} top-ranked skipped, "
          f"{stats.positives} positives or same key, {stats.margin} within the margin, "
          f"{stats.cross} by the cross-encoder")  # fmt: skip
    return 0
