"""``pairsim enroll`` and ``pairsim identify``: a gallery of known identities, no retraining to add one.

``enroll PEOPLE_DIR --model DIR --gallery G.safetensors`` embeds every example in ``PEOPLE_DIR/<identity>/``
(images, or ``.txt`` files with one text per line) and adds the identities to the gallery (a new person is
just another ``enroll``). Hidden folders and files (names starting with ``.``, such as
``.ipynb_checkpoints/``) are skipped with one note on stderr; folder names follow the name policy of
:mod:`pairsim.names` (checked before the model loads). ``identify PROBE ... --model DIR --gallery G`` prints
a TSV row per probe (:mod:`pairsim.cli.tsv`): ``probe``, ``identity``, ``score``, ``known``: the best
identity and ``true``, or ``unknown`` and ``false`` when even the best score is past the model's threshold
(no identity can be named ``unknown``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pairsim.cli.args import add_allow_unverified, add_truncate_dim, apply_truncate_dim
from pairsim.cli.inputs import read_text, split_lines
from pairsim.cli.tsv import tsv_line
from pairsim.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".gif", ".tif", ".tiff", ".webp"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="add identities (one folder each) to a gallery")
    p.add_argument("people", help="folder with one sub-folder of examples per identity")
    p.add_argument("--model", required=True, help="saved model directory or hub id")
    p.add_argument("--gallery", required=True, help="gallery file (.safetensors); created or extended")
    p.add_argument("--device", default="auto")
    add_allow_unverified(p)
    add_truncate_dim(p)
    p.set_defaults(run=run_enroll)
    q = sub.add_parser("identify", help="best-matching identity for each probe, or unknown")
    q.add_argument("probes", nargs="+", help="probe inputs: image paths, or texts with --text")
    q.add_argument("--model", required=True)
    q.add_argument("--gallery", required=True)
    q.add_argument("--text", action="store_true", help="probes are texts, not file paths")
    q.add_argument("--device", default="auto")
    add_allow_unverified(q)
    add_truncate_dim(q)
    q.set_defaults(run=run_identify)


def _examples(folder: Path, hidden: list[Path]) -> list[str]:
    """The examples in one identity's folder (images, and the lines of .txt files); hidden files go to ``hidden``."""
    from pairsim.data.folders import visible_entries

    files, skipped = visible_entries(folder)
    hidden += skipped
    items: list[str] = []
    for f in files:
        if f.suffix.lower() in IMAGE_SUFFIXES:
            items.append(str(f))
        elif f.suffix.lower() == ".txt":
            items += [line for line in split_lines(read_text(f, what="example file")) if line.strip()]
    return items


def read_people(root: Path) -> dict[str, list[str]]:
    """Identity -> examples, from ``root/<identity>/``; hidden entries skipped with one note on stderr.

    Raises:
        DataError: ``root`` is not a folder, holds no identity folder, an identity folder has no examples, or
            a folder name breaks the name policy (:func:`pairsim.names.check_identity`), or two folders are
            spellings of one identity. Identities come back in NFC form (the gallery stores that).
    """
    from pairsim.data.folders import skipped_note, visible_entries
    from pairsim.names import check_identity, colliding

    if not root.is_dir():
        raise DataError(f"enroll: {root} is not a folder (expected one sub-folder of examples per identity)")
    entries, hidden = visible_entries(root)
    folders = [d for d in entries if d.is_dir()]
    named = {d: check_identity(d.name, where=f"enroll: a folder in {root}:") for d in folders}  # NFC, quoted escaped
    twins = colliding(d.name for d in folders)
    if twins is not None:
        raise DataError(
            f"enroll: folders {twins[0]!a} and {twins[1]!a} in {root} are spellings of one identity (equal "
            "up to case, accents' encoding or compatibility forms); merge them into one folder"
        )
    people = {named[d]: _examples(d, hidden) for d in folders}
    if hidden:
        print(f"pairsim: note: enroll: {skipped_note(hidden, root)}", file=sys.stderr)
    empty = [name for name, items in people.items() if not items]
    if not people or empty:
        raise DataError(f"enroll: {root}/{empty[0] if empty else '<identity>'}/ has no examples (images or .txt files)")
    return people


def run_enroll(args: argparse.Namespace) -> int:
    import torch

    from pairsim.device import pick_device
    from pairsim.gallery import Gallery, check_gallery_target, empty_gallery, load_gallery, save_gallery, writer_lock
    from pairsim.model import PairModel
    from pairsim.names import check_new_identity

    root = Path(args.people)
    people = read_people(root)
    gallery_path = Path(args.gallery)
    check_gallery_target(gallery_path)
    model = PairModel.from_pretrained(
        args.model, device=str(pick_device(args.device)), allow_unverified=args.allow_unverified
    )
    apply_truncate_dim(model, args)
    encoded = {name: model.encode_b(items) for name, items in people.items()}  # side b; probes are side a
    with writer_lock(gallery_path):  # one writer (enroll, unenroll, serve) at a time: no update is lost
        exists = gallery_path.exists()
        gallery = load_gallery(gallery_path, model, allow_empty=True) if exists else empty_gallery(model)
        for name in people:  # re-enrolling a person replaces them; another spelling of them is refused
            check_new_identity(gallery.names, name, where=f"enroll: a folder in {root}:")
        keep = [i for i, n in enumerate(gallery.names) if n not in people]
        names, rows = [gallery.names[i] for i in keep], gallery.embeddings[keep]
        for name, items in people.items():
            rows = torch.cat([rows, encoded[name]])
            names += [name] * len(items)
        save_gallery(gallery_path, Gallery(names=names, embeddings=rows, fingerprint=gallery.fingerprint))
    print(f"enrolled {len(people)} identities ({sum(map(len, people.values()))} examples); gallery {gallery_path} "
          f"holds {len(set(names))} identities")  # fmt: skip
    return 0


def run_identify(args: argparse.Namespace) -> int:

    from pairsim.device import pick_device
    from pairsim.gallery import load_gallery
    from pairsim.model import PairModel

    model = PairModel.from_pretrained(
        args.model, device=str(pick_device(args.device)), allow_unverified=args.allow_unverified
    )
    apply_truncate_dim(model, args)
    gallery = load_gallery(Path(args.gallery), model)
    names, rows = gallery.names, gallery.embeddings
    if not args.text:
        missing = [p for p in args.probes if not Path(p).is_file()]
        if missing:
            raise DataError(f"identify: probe file not found: {missing[0]} (use --text for text probes)")
    probes = model.encode_a(args.probes)  # (P, D)
    from pairsim.search import GalleryIndex  # deploy hook: exact search, FAISS for large galleries

    matches = GalleryIndex(names, rows, head=model.head, threshold=model.config.threshold).identify(probes)
    from pairsim.names import NO_MATCH

    sys.stdout.write(tsv_line("probe", "identity", "score", "known"))
    for probe, m in zip(args.probes, matches, strict=True):
        known = m.identity is not None
        sys.stdout.write(tsv_line(probe, m.identity if known else NO_MATCH, f"{m.score:.6f}", str(known).lower()))
    return 0
