"""``pairsim rerank queries.txt corpus.txt --bi-encoder DIR --cross-encoder DIR [-k K] [--top N] [--out FILE|-]``."""

from __future__ import annotations

import argparse

from pairsim.cli.args import add_allow_unverified, device_name, positive_int
from pairsim.cli.inputs import output_file, text_output
from pairsim.cli.tsv import tsv_line


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rerank",
        help="retrieve each query's top-k corpus lines with a bi-encoder, rescore them with a cross-encoder",
        description="Output: TSV with query, rank, item, score (the cross-encoder's), same (at its threshold), "
        "retrieval_rank and retrieval_score (the bi-encoder's), best first per query. FAISS proposes the "
        "candidates where installed and the bi-encoder's head allows it; the head's own scores rank them.",
    )
    p.add_argument("queries", help="file with one query per line")
    p.add_argument("corpus", help="file with one corpus item per line")
    p.add_argument("--bi-encoder", required=True, help="saved pairsim model or sentence-transformers directory")
    p.add_argument("--cross-encoder", required=True, help="saved pairsim model that scores pairs (a cross-encoder)")
    add_allow_unverified(p)
    p.add_argument("-k", "--k", type=positive_int, default=20, help="candidates retrieved per query (default 20)")
    p.add_argument("--top", type=positive_int, help="rows kept per query after reranking (default: all k)")
    p.add_argument("--search", choices=["auto", "exact", "faiss"], default="auto", help="retrieval search")
    p.add_argument("--out", help="write the TSV to this file (replaced atomically), or - for stdout (default)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per encoding batch")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda, ...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.cli.inputs import read_lines
    from pairsim.device import pick_device
    from pairsim.model import PairModel
    from pairsim.search.rerank import rerank
    from pairsim.search.retrieve import load_encoder

    queries, corpus = read_lines(args.queries), read_lines(args.corpus)
    if args.out:
        output_file(args.out)  # a bad --out fails before any work
    device = str(pick_device(args.device, where="--device"))
    bi = load_encoder(args.bi_encoder, device=device)
    cross = PairModel.from_pretrained(args.cross_encoder, device=device, allow_unverified=args.allow_unverified)
    table = rerank(bi, cross, queries, corpus, k=args.k, top=args.top, backend=args.search, batch_size=args.batch_size)
    columns = ["query", "rank", "item", "score", "same", "retrieval_rank", "retrieval_score"]
    with text_output(args.out) as f:
        f.write(tsv_line(*columns))
        for row in table:
            same = "" if row["same"] is None else ("same" if row["same"] else "different")
            f.write(tsv_line(row["query"], row["rank"], row["item"], f"{row['score']:.6f}", same,
                             row["retrieval_rank"], f"{row['retrieval_score']:.6f}"))  # fmt: skip
    return 0
