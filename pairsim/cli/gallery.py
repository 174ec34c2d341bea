"""``pairsim enroll`` and ``pairsim identify``: a gallery of known identities, no retraining to add one.

``enroll PEOPLE_DIR --model DIR --gallery G.safetensors`` embeds every example in ``PEOPLE_DIR/<identity>/``
(images, or ``.txt`` files with one text per line) and adds the identities to the gallery (a new person is
just another ``enroll``). Hidden folders and files (names starting with ``.``, such as
``.ipynb_checkpoints/``) are skipped with one note on stderr; folder names follow the name policy of
:mod:`pairsim.names` (checked before the model loads). ``identify PROBE ... --model DIR --gallery G`` prints
a TSV row per probe (:mod:`pairsim.cli.tsv`): ``probe``, ``identity``, ``score``, ``known``: the best
identity and ``true``, or ``unknown`` and ``false`` when even the best score is past the model's threshold
(no identity can be named ``unknown``), and ``exact``: ``false`` when the match came from an approximate
index's shortlist (its score is still the head's own).

``enroll --index KIND`` chooses how the gallery is searched (recorded in the file; default ``auto``: exact,
then flat FAISS, then an approximate index written beside the gallery as it grows, :mod:`pairsim.search`),
``--on-disk`` memory-maps its rows (and an ``ivfpq`` index) instead of reading them into memory.
``identify --index KIND`` searches one way this time, whatever the file records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pairsim.cli.args import add_allow_unverified, add_threads, add_truncate_dim, apply_truncate_dim
from pairsim.cli.inputs import read_text, split_lines
from pairsim.cli.tsv import tsv_line
from pairsim.errors import DataError

INDEX_CHOICES = ("auto", "exact", "faiss", "hnsw", "ivfpq", "int8", "binary")  # pairsim.search.index.BACKENDS
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".gif", ".tif", ".tiff", ".webp"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="add identities (one folder each) to a gallery")
    p.add_argument("people", help="folder with one sub-folder of examples per identity")
    p.add_argument(
        "--model",
        required=True,
        help="saved model directory or hub id, or a Hugging Face / sentence-transformers encoder directory or hub id",
    )
    p.add_argument("--gallery", required=True, help="gallery file (.safetensors); created or extended")
    p.add_argument("--device", default="auto")
    _add_index(p, "how the gallery is searched (recorded in it; default: as recorded, else auto)")
    p.add_argument("--on-disk", action="store_true", default=None,
                   help="memory-map the gallery's rows (and an ivfpq index) instead of reading them (recorded)")  # fmt: skip
    add_allow_unverified(p)
    add_threads(p, recipe=False)
    add_truncate_dim(p)
    p.set_defaults(run=run_enroll)
    q = sub.add_parser("identify", help="best-matching identity for each probe, or unknown")
    q.add_argument("probes", nargs="+", help="probe inputs: image paths, or texts with --text")
    q.add_argument("--model", required=True, help="the model the gallery was enrolled with (as for enroll)")
    q.add_argument("--gallery", required=True)
    q.add_argument("--text", action="store_true", help="probes are texts, not file paths")
    q.add_argument("--device", default="auto")
    _add_index(q, "search this way this time (default: as the gallery records)")
    add_allow_unverified(q)
    add_threads(q, recipe=False)
    add_truncate_dim(q)
    q.set_defaults(run=run_identify)


def _add_index(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--index", choices=INDEX_CHOICES, help=text)


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
    from pairsim.cli.model_arg import load_model_arg
    from pairsim.device import pick_device
    from pairsim.gallery import Gallery, check_gallery_target, empty_gallery, load_gallery, save_gallery, writer_lock
    from pairsim.names import check_new_identity
    from pairsim.search.stored import open_index, search_record

    root = Path(args.people)
    people = read_people(root)
    gallery_path = Path(args.gallery)
    check_gallery_target(gallery_path)
    model, _ = load_model_arg(args.model, device=str(pick_device(args.device)), allow_unverified=args.allow_unverified)
    apply_truncate_dim(model, args)
    encoded = {name: model.encode_b(items) for name, items in people.items()}  # side b; probes are side a
    with writer_lock(gallery_path):  # one writer (enroll, unenroll, serve) at a time: no update is lost
        exists = gallery_path.exists()
        gallery = load_gallery(gallery_path, model, allow_empty=True) if exists else empty_gallery(model)
        for name in people:  # re-enrolling a person replaces them; another spelling of them is refused
            check_new_identity(gallery.names, name, where=f"enroll: a folder in {root}:")
        index = open_index(gallery, gallery_path, head=model.head, threshold=model.config.threshold,
                           backend=args.index)  # fmt: skip
        for name in people:  # re-enrolling a person replaces them (the approximate index tombstones their rows)
            index.add(name, encoded[name])
        on_disk = bool((gallery.search or {}).get("on_disk")) if args.on_disk is None else args.on_disk
        record, ids = search_record(index, gallery_path, on_disk=on_disk)
        save_gallery(gallery_path, Gallery(names=index.names, embeddings=index.embeddings,
                                           fingerprint=gallery.fingerprint, search=record, search_ids=ids))  # fmt: skip
    print(f"enrolled {len(people)} identities ({sum(map(len, people.values()))} examples); gallery {gallery_path} "
          f"holds {len(index.identities)} identities")  # fmt: skip
    return 0


def run_identify(args: argparse.Namespace) -> int:

    from pairsim.cli.model_arg import load_model_arg
    from pairsim.device import pick_device
    from pairsim.gallery import load_gallery

    model, _ = load_model_arg(args.model, device=str(pick_device(args.device)), allow_unverified=args.allow_unverified)
    apply_truncate_dim(model, args)
    gallery = load_gallery(Path(args.gallery), model)
    if not args.text:
        missing = [p for p in args.probes if not Path(p).is_file()]
        if missing:
            raise DataError(f"identify: probe file not found: {missing[0]} (use --text for text probes)")
    probes = model.encode_a(args.probes)  # (P, D)
    from pairsim.search.stored import open_index  # exact, FAISS or the approximate index the gallery records

    index = open_index(gallery, args.gallery, head=model.head, threshold=model.config.threshold, backend=args.index)
    matches = index.identify(probes)
    from pairsim.names import NO_MATCH

    sys.stdout.write(tsv_line("probe", "identity", "score", "known", "exact"))
    for probe, m in zip(args.probes, matches, strict=True):
        known = m.identity is not None
        who = m.identity if known else NO_MATCH
        sys.stdout.write(tsv_line(probe, who, f"{m.score:.6f}", str(known).lower(), str(m.exact).lower()))
    return 0
