"""``pairsim unenroll NAME ... --gallery G``: remove identities from a gallery (nothing is re-encoded).

Each NAME matches the spelling the gallery stores (:func:`pairsim.names.find_identity`): exactly, else equal
up to case, accents' encoding or compatibility forms (``unenroll josé`` removes ``José``, whether given as
``é`` or ``e`` + U+0301), never a different person.
"""

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
    from pairsim.names import find_identity

    path = Path(args.gallery)
    if not path.is_file():
        raise DataError(f"unenroll: gallery {path} not found")
    with writer_lock(path):
        gallery = read_gallery(path, allow_empty=True, check_names=False)  # so a name the policy refuses can go
        names, rows = gallery.names, gallery.embeddings
        stored = {name: find_identity(names, name) for name in args.identities}  # the spelling each one means
        missing = [name for name, found in stored.items() if found is None]
        if missing:
            raise DataError(
                f"unenroll: identity {missing[0]!r} is not in {path} (it holds {len(set(names))} identities)"
            )
        gone = set(stored.values())
        keep = [i for i, n in enumerate(names) if n not in gone]
        ids = None if gallery.search_ids is None else gallery.search_ids[keep]  # an approximate index's removed
        save_gallery(  # ids just vanish (tombstones): the index file stays valid, the next enroll compacts it
            path,
            Gallery(names=[names[i] for i in keep], embeddings=rows[keep], fingerprint=gallery.fingerprint,
                    search=gallery.search, search_ids=ids),
        )  # fmt: skip
    print(
        f"removed {len(gone)} identities ({len(names) - len(keep)} rows); {path} holds {len(set(names[i] for i in keep))}"
    )
    return 0
