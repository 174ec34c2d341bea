"""``pairsim unenroll NAME ... --gallery G``: remove identities from a gallery (nothing is re-encoded)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("unenroll", help="remove identities from a gallery without re-encoding the others")
    p.add_argument("identities", nargs="+", help="identity names to remove")
    p.add_argument("--gallery", required=True, help="gallery file (.safetensors) written by pairsim enroll")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pairsim.errors import DataError
    from pairsim.gallery import Gallery, read_gallery, save_gallery, writer_lock

    path = Path(args.gallery)
    if not path.is_file():
        raise DataError(f"unenroll: gallery {path} not found")
    with writer_lock(path):
        gallery = read_gallery(path, allow_empty=True, check_names=False)  # so a name the policy refuses can go
        names, rows = gallery.names, gallery.embeddings
        missing = [n for n in args.identities if n not in names]
        if missing:
            raise DataError(
                f"unenroll: identity {missing[0]!r} is not in {path} (it holds {len(set(names))} identities)"
            )
        keep = [i for i, n in enumerate(names) if n not in set(args.identities)]
        save_gallery(
            path, Gallery(names=[names[i] for i in keep], embeddings=rows[keep], fingerprint=gallery.fingerprint)
        )  # same model
    print(
        f"removed {len(args.identities)} identities ({len(names) - len(keep)} rows); {path} holds {len(set(names[i] for i in keep))}"
    )
    return 0
