"""``pairsim enroll`` and ``pairsim identify``: a gallery of known identities, no retraining to add one.

``enroll PEOPLE_DIR --model DIR --gallery G.safetensors`` embeds every example in ``PEOPLE_DIR/<identity>/``
(images, or ``.txt`` files with one text per line) and adds the identities to the gallery (a new person is
just another ``enroll``). ``identify PROBE ... --model DIR --gallery G`` prints each probe's best
identity and score, or ``unknown`` when even the best score is past the model's threshold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from pairsim.errors import DataError, ModelFileError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".gif", ".tif", ".tiff", ".webp"}

if TYPE_CHECKING:
    import torch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="add identities (one folder each) to a gallery")
    p.add_argument("people", help="folder with one sub-folder of examples per identity")
    p.add_argument("--model", required=True, help="saved model directory or hub id")
    p.add_argument("--gallery", required=True, help="gallery file (.safetensors); created or extended")
    p.add_argument("--device", default="auto")
    p.set_defaults(run=run_enroll)
    q = sub.add_parser("identify", help="best-matching identity for each probe, or unknown")
    q.add_argument("probes", nargs="+", help="probe inputs: image paths, or texts with --text")
    q.add_argument("--model", required=True)
    q.add_argument("--gallery", required=True)
    q.add_argument("--text", action="store_true", help="probes are texts, not file paths")
    q.add_argument("--device", default="auto")
    q.set_defaults(run=run_identify)


def _examples(folder: Path) -> list[str]:
    items: list[str] = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            items.append(str(f))
        elif f.suffix.lower() == ".txt":
            items += [line for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items


def load_gallery(path: Path) -> tuple[list[str], torch.Tensor]:
    """Identity of each gallery row and the ``(N, D)`` embeddings."""

    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            names = json.loads(f.metadata()["identities"])
            return names, f.get_tensor("embeddings")
    except (SafetensorError, OSError, KeyError, ValueError) as err:
        raise ModelFileError(f"cannot read gallery {path}: {err}") from None


def run_enroll(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_file

    from pairsim.model import PairModel
    from pairsim.train.distributed import pick_device

    root = Path(args.people)
    if not root.is_dir():
        raise DataError(f"enroll: {root} is not a folder (expected one sub-folder of examples per identity)")
    people = {d.name: _examples(d) for d in sorted(root.iterdir()) if d.is_dir()}
    empty = [name for name, items in people.items() if not items]
    if not people or empty:
        raise DataError(f"enroll: {root}/{empty[0] if empty else '<identity>'}/ has no examples (images or .txt files)")
    model = PairModel.from_pretrained(args.model, device=str(pick_device(args.device)))
    gallery = Path(args.gallery)
    if not gallery.parent.is_dir():
        raise DataError(f"enroll: --gallery {gallery}: folder {gallery.parent} does not exist")
    names, rows = load_gallery(gallery) if gallery.is_file() else ([], torch.empty(0, model.tower_a.out_dim))
    keep = [i for i, n in enumerate(names) if n not in people]  # re-enrolling a person replaces them
    names, rows = [names[i] for i in keep], rows[keep]
    for name, items in people.items():
        rows = torch.cat([rows, model.encode_b(items)])  # the gallery is side b, probes side a
        names += [name] * len(items)
    tmp = gallery.with_name(f".{gallery.name}.tmp")
    save_file({"embeddings": rows.contiguous()}, tmp, metadata={"identities": json.dumps(names)})
    tmp.replace(gallery)
    print(f"enrolled {len(people)} identities ({sum(map(len, people.values()))} examples); gallery {gallery} "
          f"holds {len(set(names))} identities")  # fmt: skip
    return 0


def run_identify(args: argparse.Namespace) -> int:

    from pairsim.model import PairModel
    from pairsim.train.distributed import pick_device

    model = PairModel.from_pretrained(args.model, device=str(pick_device(args.device)))
    names, rows = load_gallery(Path(args.gallery))
    if not args.text:
        missing = [p for p in args.probes if not Path(p).is_file()]
        if missing:
            raise DataError(f"identify: probe file not found: {missing[0]} (use --text for text probes)")
    probes = model.encode_a(args.probes)  # (P, D)
    from pairsim.search import GalleryIndex  # deploy hook: exact search, FAISS for large galleries

    matches = GalleryIndex(names, rows, head=model.head, threshold=model.config.threshold).identify(probes)
    print("probe\tidentity\tscore")
    for probe, m in zip(args.probes, matches, strict=True):
        print(f"{probe}\t{m.identity or 'unknown'}\t{m.score:.6f}")
    return 0
