"""The three kinds of data pairsim trains on, and the train/val/test triple that holds them.

* :class:`LabelledItems`: items with a class id each (Omniglot characters, face subjects, digits); pairs,
  triplets and episodes are sampled from them.
* :class:`PairTable`: fixed pairs with a 0/1 label (MRPC, Quora) and optionally a graded score (STS-B).
* :class:`CaptionImages`: images with several captions each (Flickr8k).

**Label 1 = similar** everywhere. Each kind gives the items one tower sees with a class each
(``class_items(side)``): what the few-class fitters (WCCN, pairsim/train/fitters) learn from, whatever the layout.

Example:
    >>> items = LabelledItems(items=["a", "b", "c", "d"], labels=[0, 0, 1, 1], modality="text")
    >>> items.by_class()
    {0: [0, 1], 1: [2, 3]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

from pairsim.data.split import components
from pairsim.errors import DataError

Modality = Literal["image", "text"]


def _check_lengths(kind: str, **columns: Sequence[Any] | None) -> None:
    lengths = {name: len(col) for name, col in columns.items() if col is not None}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise DataError(f"{kind}: columns must have the same length, got {found}")


@dataclasses.dataclass
class LabelledItems:
    """Items with one class id each.

    Args:
        items: Image paths, image arrays or texts.
        labels: Class id of each item (e.g. Omniglot character, face subject).
        groups: Optional coarser group of each item (Omniglot alphabet, face subject name); episodes can
            be drawn within a group.
        modality: "image" or "text".
    """

    items: list[Any]
    labels: list[int]
    groups: list[str] | None = None
    modality: Modality = "image"

    def __post_init__(self) -> None:
        _check_lengths("LabelledItems", items=self.items, labels=self.labels, groups=self.groups)

    def __len__(self) -> int:
        return len(self.items)

    def classes(self) -> list[int]:
        """The distinct class ids, sorted."""
        return sorted(set(self.labels))

    def by_class(self) -> dict[int, list[int]]:
        """Class id -> indices of its items, classes sorted, indices ascending."""
        out: dict[int, list[int]] = {}
        for i, label in enumerate(self.labels):
            out.setdefault(int(label), []).append(i)
        return dict(sorted(out.items()))

    def class_items(self, side: str | None = None) -> LabelledItems:
        """The items with their classes: these items themselves (both sides hold the same items).

        Args:
            side: ``"a"``, ``"b"`` or None (both sides, a tied tower); the same items for each.
        """
        return self

    def subset(self, indices: Sequence[int]) -> LabelledItems:
        """The items at ``indices``, in that order."""
        return LabelledItems(
            items=[self.items[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            groups=None if self.groups is None else [self.groups[i] for i in indices],
            modality=self.modality,
        )

    def check_pairable(self, where: str) -> None:
        """Raise DataError unless every class has at least two items and there are two classes.

        Args:
            where: Name of this data in the message, e.g. "omniglot train".
        """
        if not self.items:
            raise DataError(f"{where}: the split is empty; expected at least two classes of two items")
        counts = {c: len(ix) for c, ix in self.by_class().items()}
        single = [c for c, n in counts.items() if n < 2]
        if single:
            raise DataError(
                f"{where}: class {single[0]} has {counts[single[0]]} example(s); every class needs at least "
                f"2 for a positive pair ({len(single)} such classes)"
            )
        if len(counts) < 2:
            raise DataError(f"{where}: only one class; negative pairs need at least two classes")


class _Concat(Sequence[Any]):
    """Two sequences read as one, without copying the first."""

    def __init__(self, first: Sequence[Any], second: Sequence[Any]) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        return self.first[i] if i < len(self.first) else self.second[i - len(self.first)]


@dataclasses.dataclass
class PairTable:
    """Fixed pairs ``(a[i], b[i])`` with a 0/1 label and optionally a graded score; each side has its own
    modality and optionally a key per item (a caption's key is its image id), so aligned batches can keep
    two rows with the same key apart.

    Args:
        a: First item of each pair (text, or image path / array).
        b: Second item of each pair.
        labels: 1.0 = similar (paraphrase, duplicate), 0.0 = not.
        scores: Graded similarity where the data has one (STS-B 0-5), else None.
        modality: "text" or "image": what side a holds (and side b, unless ``modality_b`` is set).
        modality_b: What side b holds when it differs from side a (caption-image data).
        keys_a: Identity of each side-a item (None: the item itself when it is a text or a path).
        keys_b: Identity of each side-b item.
        classes_a: Class of each side-a item (a table's class column: the person in a face image), or None.
        classes_b: Class of each side-b item; given together with ``classes_a``.
        negatives: Explicit (hard) negatives of side b for each row, the same number per row (a mined table's
            ``negative_1 .. negative_n`` columns), or None. Rows with negatives are all similar pairs.
    """

    a: list[Any]
    b: list[Any]
    labels: list[float]
    scores: list[float] | None = None
    modality: Modality = "text"
    modality_b: Modality | None = None
    keys_a: list[str] | None = None
    keys_b: list[str] | None = None
    classes_a: list[str] | None = None
    classes_b: list[str] | None = None
    negatives: list[list[Any]] | None = None

    def __post_init__(self) -> None:
        _check_lengths(
            "PairTable", a=self.a, b=self.b, labels=self.labels, scores=self.scores, keys_a=self.keys_a,
            keys_b=self.keys_b, classes_a=self.classes_a, classes_b=self.classes_b, negatives=self.negatives,
        )  # fmt: skip
        if (self.classes_a is None) != (self.classes_b is None):
            raise DataError("PairTable: classes_a and classes_b are given together (a class for each side's item)")
        if self.negatives is not None and len({len(row) for row in self.negatives}) > 1:
            raise DataError("PairTable: every row needs the same number of negatives")

    def side_modality(self, side: str) -> Modality:
        """What side ``"a"`` or ``"b"`` holds."""
        return self.modality if side == "a" or self.modality_b is None else self.modality_b

    def keys(self, side: str) -> list[Any]:
        """A key per item of ``side``: the given keys, else the item itself if a text or path, else its row."""
        given = self.keys_a if side == "a" else self.keys_b
        if given is not None:
            return list(given)
        items = self.a if side == "a" else self.b
        return [it if isinstance(it, str) else i for i, it in enumerate(items)]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_negatives(self) -> int:
        """Explicit negatives per row (0 without a ``negatives`` column)."""
        return len(self.negatives[0]) if self.negatives else 0

    def side_b_items(self) -> Sequence[Any]:
        """Side b's items followed by every row's negatives: row ``r``'s ``k``-th negative is item
        ``len(b) + r * n_negatives + k`` (what the ``hard_negatives`` sampler's indices point into)."""
        if not self.negatives:
            return self.b
        return _Concat(self.b, [x for row in self.negatives for x in row])

    def subset(self, indices: Sequence[int]) -> PairTable:
        """The pairs at ``indices``, in that order."""
        pick = lambda col: None if col is None else [col[i] for i in indices]  # noqa: E731
        return dataclasses.replace(
            self, a=pick(self.a), b=pick(self.b), labels=pick(self.labels), scores=pick(self.scores),
            keys_a=pick(self.keys_a), keys_b=pick(self.keys_b), classes_a=pick(self.classes_a),
            classes_b=pick(self.classes_b), negatives=pick(self.negatives),
        )  # fmt: skip

    def positives(self) -> PairTable:
        """Only the pairs labelled similar (for in-batch-negative losses)."""
        return self.subset([i for i, y in enumerate(self.labels) if y >= 0.5])

    def class_items(self, side: str | None = None) -> LabelledItems:
        """The distinct items of one side (or of both) with a class each, for fitters that learn from classes.

        The class of an item is its class column (``classes_a`` / ``classes_b``) where the table has one;
        otherwise the connected component of the similar pairs (label >= 0.5) it is in: items joined by a chain
        of similar pairs are one class, and an item in no similar pair is a class of its own. Items are told
        apart by their keys (:meth:`keys`; a text or a path on both sides is one item), in order of first
        appearance (side a's rows, then side b's); classes are numbered in order of first appearance.

        Args:
            side: ``"a"`` or ``"b"`` (the items one tower of an untied model sees), or None for both sides
                (a tied model's one tower).

        Returns:
            :class:`LabelledItems` of the side's modality; with class columns, ``groups`` holds the class names.

        Raises:
            DataError: Both sides asked for but they hold different modalities, or an item given two classes.
        """
        sides = ("a", "b") if side is None else (side,)
        modalities = {self.side_modality(s) for s in sides}
        if len(modalities) > 1:
            raise DataError("PairTable: side a holds images and side b texts (or the reverse); one tower's items "
                            "come from one side")  # fmt: skip
        keys = {s: [k if isinstance(k, str) else (s, k) for k in self.keys(s)] for s in ("a", "b")}
        rows = [(s, i) for s in sides for i in range(len(self.labels))]
        first: dict[Any, tuple[str, int]] = {}
        for s, i in rows:
            first.setdefault(keys[s][i], (s, i))
        if self.classes_a is not None and self.classes_b is not None:
            named = self._named_classes(keys)
            names = [named[k] for k in first]
        else:
            positive = [i for i, y in enumerate(self.labels) if y >= 0.5]
            items = list(first)  # each item an edge to itself, so that every item gets its component
            ids = components([*(keys["a"][i] for i in positive), *items], [*(keys["b"][i] for i in positive), *items])
            names = [str(c) for c in ids[len(positive) :]]
        number: dict[str, int] = {}
        labels = [number.setdefault(n, len(number)) for n in names]
        columns = {"a": self.a, "b": self.b}
        return LabelledItems(
            items=[columns[s][i] for s, i in first.values()],
            labels=labels,
            groups=names if self.classes_a is not None else None,
            modality=modalities.pop(),
        )

    def _named_classes(self, keys: dict[str, list[Any]]) -> dict[Any, str]:
        """Item key -> its class from the class columns; DataError naming an item given two classes."""
        named: dict[Any, str] = {}
        for s, given in (("a", self.classes_a), ("b", self.classes_b)):
            assert given is not None
            for i, (key, name) in enumerate(zip(keys[s], given, strict=True)):
                if named.setdefault(key, str(name)) != str(name):
                    raise DataError(
                        f"PairTable: row {i + 1}: item {key!r} of side {s} has class {name!r} here and "
                        f"{named[key]!r} in an earlier row; an item has one class"
                    )
        return named


@dataclasses.dataclass
class CaptionImages:
    """Images with captions; each caption belongs to one image.

    Args:
        images: Image file paths (or arrays).
        image_ids: One id per image (the file name for Flickr8k); splits are made by id.
        captions: All captions.
        caption_image: For each caption, the index of its image in ``images``.
        image_side: The side that holds the images when the data is used as pairs ("b": captions on side a).
        negatives: Explicit (hard) negatives of each caption's pair, items of side b (images when
            ``image_side`` is "b"), the same number per caption (``data.train_negatives``), or None.
    """

    images: list[Any]
    image_ids: list[str]
    captions: list[str]
    caption_image: list[int]
    image_side: Literal["a", "b"] = "b"
    negatives: list[list[Any]] | None = None

    def __post_init__(self) -> None:
        _check_lengths("CaptionImages images", images=self.images, image_ids=self.image_ids)
        _check_lengths("CaptionImages captions", captions=self.captions, caption_image=self.caption_image,
                       negatives=self.negatives)  # fmt: skip
        bad = [j for j in self.caption_image if not 0 <= j < len(self.images)]
        if bad:
            raise DataError(f"CaptionImages: caption_image {bad[0]} is out of range for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.captions)

    def to_pairs(self) -> PairTable:
        """Caption-image data as pairs keyed by image id (every pair similar), images on ``image_side``."""
        images = [self.images[i] for i in self.caption_image]
        ids = [self.image_ids[i] for i in self.caption_image]
        texts = list(self.captions)
        a, b = (images, texts) if self.image_side == "a" else (texts, images)
        ka, kb = (ids, None) if self.image_side == "a" else (None, ids)
        first: Modality = "image" if self.image_side == "a" else "text"
        second: Modality = "text" if self.image_side == "a" else "image"
        return PairTable(a=a, b=b, labels=[1.0] * len(texts), modality=first, modality_b=second, keys_a=ka, keys_b=kb,
                         negatives=self.negatives)  # fmt: skip

    def class_items(self, side: str | None = None) -> LabelledItems:
        """One side's items with a class each: the image they show (a caption's class is its image; each image is
        a class of its own). See :meth:`PairTable.class_items` on :meth:`to_pairs`.

        Args:
            side: ``"a"`` or ``"b"``: the images (``image_side``) or the captions.
        """
        return self.to_pairs().class_items(side)

    def image_captions(self) -> list[list[int]]:
        """For each image, the indices of its captions (ascending)."""
        out: list[list[int]] = [[] for _ in self.images]
        for c, i in enumerate(self.caption_image):
            out[i].append(c)
        return out

    def subset_images(self, indices: Sequence[int]) -> CaptionImages:
        """The images at ``indices`` (in that order) with all their captions, re-indexed."""
        new_index = {old: new for new, old in enumerate(indices)}
        keep = [c for c, i in enumerate(self.caption_image) if i in new_index]
        return CaptionImages(
            images=[self.images[i] for i in indices],
            image_ids=[self.image_ids[i] for i in indices],
            captions=[self.captions[c] for c in keep],
            caption_image=[new_index[self.caption_image[c]] for c in keep],
            image_side=self.image_side,
            negatives=None if self.negatives is None else [self.negatives[c] for c in keep],
        )


Data = LabelledItems | PairTable | CaptionImages
D = TypeVar("D", LabelledItems, PairTable, CaptionImages)


@dataclasses.dataclass
class Splits(Generic[D]):
    """Train, validation and test data of one kind.

    Args:
        train: Training data.
        val: Validation data (model selection, early stopping).
        test: Test data (reported once).
    """

    train: D
    val: D
    test: D

    def __post_init__(self) -> None:
        kinds = {type(self.train), type(self.val), type(self.test)}
        if len(kinds) != 1:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            raise DataError(f"Splits: train, val and test must be of one kind, got {names}")

    @property
    def kind(self) -> type[D]:
        """The data class of the three splits."""
        return type(self.train)

    def items(self) -> list[tuple[str, D]]:
        """``[("train", train), ("val", val), ("test", test)]``."""
        return [("train", self.train), ("val", self.val), ("test", self.test)]
