"""DataLoaders for the four batch kinds a loss asks for (see :mod:`pairsim.losses.base`):

* ``"pairs"``: ``(batch_a, batch_b, labels)`` with ``labels: (B,)`` float, 1 = similar (or the graded score
  with ``pair_target: score``);
* ``"triplets"``: ``(anchor, positive, negative)``;
* ``"classes"``: ``(batch, class_labels)`` with ``class_labels: (B,)`` long, P classes x K items per batch;
* ``"aligned"``: ``(batch_a, batch_b)`` where row ``i`` of one matches row ``i`` of the other (caption ``i``
  and its image) and no other row does.

Each ``batch_*`` is what the tower's ``collate`` returns. Items go through the towers' two-stage
preprocessing: ``featurize`` per item in the (worker) dataset, after image decoding and training-only
augmentation, with texts tokenised once up front (:func:`pairsim.data.tokenize.tokenize_texts`); then
``collate`` per batch. Call :func:`set_epoch` before each epoch: pairs, triplets, batch order and
augmentation all follow ``(seed, epoch)``, so a resumed run (``start_batch``) sees exactly the same batches.

Example:
    >>> # loader = build_loader(splits.train, "pairs", tower, tower, config=LoaderConfig(batch_size=64))
    >>> # for epoch in range(epochs):
    >>> #     set_epoch(loader, epoch)
    >>> #     for batch_a, batch_b, labels in loader: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, Dataset

from pairsim.data.augment import AugmentConfig
from pairsim.data.batch_datasets import (
    Aligned,
    BatchDataset,
    CaptionPairs,
    Classes,
    Collator,
    ItemCollator,
    LabelledPairs,
    SingleItems,
    TablePairs,
    Triplets,
)
from pairsim.data.batching import CaptionBatchSampler, EpochBatchSampler, IndexBatchSampler, PKBatchSampler
from pairsim.data.encoder import ItemEncoder
from pairsim.data.sampling import PairDataset, TripletDataset
from pairsim.data.types import CaptionImages, Data, LabelledItems, Modality, PairTable, Splits
from pairsim.errors import ConfigError, DataError

BatchKind = Literal["pairs", "triplets", "classes", "aligned"]
BATCH_KINDS: tuple[str, ...] = ("pairs", "triplets", "classes", "aligned")


@dataclasses.dataclass(kw_only=True)
class LoaderConfig:
    """How batches are drawn and loaded."""

    batch_size: int = 32  # items (pairs, triplets, captions) per batch and process; "classes" uses P x K
    num_workers: int = 0  # worker processes that decode, augment and featurize items (0: in the main process)
    pin_memory: bool | None = None  # pin batches in page-locked memory; None: when CUDA is available
    seed: int = 0  # seed of pair/triplet sampling, batch order and augmentation
    pairs_per_epoch: int | None = None  # pairs/triplets drawn from labelled items per epoch (None: one per item)
    positive_fraction: float = 0.5  # share of similar pairs drawn from labelled items
    classes_per_batch: int = 8  # "classes" batches: P classes ...
    samples_per_class: int = 4  # ... x K items of each
    drop_last: bool = True  # training: drop a last, smaller batch (in-batch-negative losses want full batches)
    pair_target: Literal["label", "score"] = "label"  # "pairs" from a table: the 0/1 label or the graded score
    text_cache_dir: str | None = None  # cache tokenised texts as Arrow files here (None: in memory only)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)  # training images only


def _tower_modality(tower: Any) -> str | None:
    return getattr(tower, "modality", None)


def _check_modality(tower: Any, modality: str, side: str) -> None:
    got = _tower_modality(tower)
    if got is not None and got != modality:
        raise ConfigError(f"{side} is a {got} tower but the data on that side holds {modality} items")


def build_loader(
    data: Data,
    kind: str,
    tower_a: Any,
    tower_b: Any | None = None,
    *,
    config: LoaderConfig | None = None,
    train: bool = True,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader[Any]:
    """A DataLoader of ``kind`` batches from one split.

    Args:
        data: The split: :class:`LabelledItems`, :class:`PairTable` or :class:`CaptionImages`.
        kind: "pairs", "triplets", "classes" or "aligned" (the loss's ``input_kind``).
        tower_a: Tower of side a (featurize/collate); also of the anchor (triplets) and of "classes".
        tower_b: Tower of side b; None or the same object when the towers are tied.
        config: Loader settings (defaults: :class:`LoaderConfig`).
        train: Training loader: fresh samples every epoch, shuffled, augmented, ``drop_last``. Otherwise a
            fixed (epoch-0) sample in order, never augmented, keeping every item.
        rank: This process's rank (distributed training).
        world_size: Number of processes.

    Returns:
        The loader; call :func:`set_epoch` on it before each epoch.

    Raises:
        ConfigError: Unknown kind, or a kind the data cannot give.
        DataError: Empty split, a class with fewer than 2 items, too few classes or images for a batch.
    """
    cfg = config or LoaderConfig()
    tower_b = tower_a if tower_b is None else tower_b
    if kind not in BATCH_KINDS:
        raise ConfigError(f"unknown batch kind {kind!r}; valid kinds: {', '.join(BATCH_KINDS)}")
    if len(data) == 0:
        raise DataError(f"{type(data).__name__}: the split is empty; cannot build a {kind!r} loader")
    augment = cfg.augment if train else None
    where = f"{'train' if train else 'eval'} {type(data).__name__}"

    def encoder(tower: Any, modality: Modality, texts: Sequence[Any] = ()) -> ItemEncoder:
        return ItemEncoder(
            tower,
            modality,
            texts=texts if modality == "text" else (),
            augment=augment,
            seed=cfg.seed,
            cache_dir=cfg.text_cache_dir,
        )

    def encoders(modality: Modality, texts_a: Sequence[Any], texts_b: Sequence[Any]) -> tuple[ItemEncoder, ...]:
        _check_modality(tower_a, modality, "tower_a")
        if kind == "classes":  # one side only
            enc = encoder(tower_a, modality, texts_a)
            return enc, enc
        _check_modality(tower_b, modality, "tower_b")
        if tower_b is tower_a:
            enc = encoder(tower_a, modality, [*texts_a, *texts_b])
            return enc, enc
        return encoder(tower_a, modality, texts_a), encoder(tower_b, modality, texts_b)

    dataset: BatchDataset
    sampler: EpochBatchSampler | None = None
    if isinstance(data, LabelledItems):
        if kind == "aligned":
            raise ConfigError("batch kind 'aligned' needs caption-image or pair-table data, not labelled items")
        texts = data.items if data.modality == "text" else []
        enc_a, enc_b = encoders(data.modality, texts, texts)
        n = cfg.pairs_per_epoch
        if kind == "pairs":
            pairs = PairDataset(
                data, num_pairs=n, positive_fraction=cfg.positive_fraction, seed=cfg.seed, fixed=not train, where=where
            )
            dataset = LabelledPairs(pairs, enc_a, enc_b)
        elif kind == "triplets":
            dataset = Triplets(
                TripletDataset(data, num_triplets=n, seed=cfg.seed, fixed=not train, where=where), enc_a, enc_b
            )
        else:
            data.check_pairable(where)
            dataset = Classes(data, enc_a)
            if train:
                sampler = PKBatchSampler(
                    data.labels,
                    classes_per_batch=cfg.classes_per_batch,
                    samples_per_class=cfg.samples_per_class,
                    seed=cfg.seed,
                    rank=rank,
                    world_size=world_size,
                )
    elif isinstance(data, PairTable):
        if kind in ("triplets", "classes"):
            raise ConfigError(f"batch kind {kind!r} needs class-labelled items, not a pair table")
        if kind == "pairs":
            enc_a, enc_b = encoders(data.modality, data.a, data.b)
            dataset = TablePairs(data, enc_a, enc_b, cfg.pair_target)
        else:
            positives = data.positives()
            if len(positives) == 0:
                raise DataError(f"{where}: no similar (label 1) pairs for 'aligned' batches")
            enc_a, enc_b = encoders(data.modality, positives.a, positives.b)
            dataset = Aligned(positives.a, positives.b, enc_a, enc_b)
    elif isinstance(data, CaptionImages):
        if kind in ("triplets", "classes"):
            raise ConfigError(f"batch kind {kind!r} needs class-labelled items, not caption-image data")
        image_first = _tower_modality(tower_a) != "text"
        img_tower, txt_tower = (tower_a, tower_b) if image_first else (tower_b, tower_a)
        _check_modality(img_tower, "image", "tower_a" if image_first else "tower_b")
        _check_modality(txt_tower, "text", "tower_b" if image_first else "tower_a")
        enc_img = encoder(img_tower, "image")
        enc_txt = encoder(txt_tower, "text", data.captions)
        if kind == "pairs":
            dataset = CaptionPairs(
                data, enc_img, enc_txt, image_first, cfg.seed, cfg.positive_fraction, fixed=not train
            )
        else:
            images = [data.images[i] for i in data.caption_image]
            a, b = (images, data.captions) if image_first else (data.captions, images)
            dataset = Aligned(a, b, enc_img if image_first else enc_txt, enc_txt if image_first else enc_img)
            sampler = CaptionBatchSampler(
                data.caption_image,
                min(cfg.batch_size, len(data.images)),
                drop_last=train and cfg.drop_last,
                seed=cfg.seed,
                rank=rank,
                world_size=world_size,
            )
    else:
        raise DataError(
            f"cannot build a loader from {type(data).__name__}; expected LabelledItems, PairTable or CaptionImages"
        )
    if sampler is None:
        sampler = IndexBatchSampler(
            len(dataset),
            cfg.batch_size,
            shuffle=train,
            drop_last=train and cfg.drop_last,
            seed=cfg.seed,
            rank=rank,
            world_size=world_size,
        )
    if len(sampler) == 0:
        raise DataError(
            f"{where}: {len(dataset)} samples give no full batch of {cfg.batch_size}; lower batch_size "
            "or set drop_last: false"
        )
    return _loader(dataset, sampler, Collator(kind, tower_a, tower_b), cfg)


def _loader(dataset: Dataset[Any], sampler: EpochBatchSampler, collate: Any, cfg: LoaderConfig) -> DataLoader[Any]:
    pin = torch.cuda.is_available() if cfg.pin_memory is None else cfg.pin_memory
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers, pin_memory=pin)


def build_loaders(
    splits: Splits[Any],
    kind: str,
    tower_a: Any,
    tower_b: Any | None = None,
    *,
    config: LoaderConfig | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[DataLoader[Any], DataLoader[Any]]:
    """Training and validation loaders of ``kind`` batches (the test split is left for evaluation)."""
    train = build_loader(
        splits.train, kind, tower_a, tower_b, config=config, train=True, rank=rank, world_size=world_size
    )
    val = build_loader(splits.val, kind, tower_a, tower_b, config=config, train=False, rank=rank, world_size=world_size)
    return train, val


def item_loader(
    items: Sequence[Any],
    tower: Any,
    *,
    modality: Modality | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    text_cache_dir: str | None = None,
) -> DataLoader[Any]:
    """Batches of single items in order, for embedding them (episode items, retrieval images and captions).

    Args:
        items: Texts, image paths or arrays.
        tower: The tower to featurize/collate with.
        modality: "text" or "image" (default: the tower's ``modality``).
        batch_size: Items per batch.
        num_workers: Worker processes.
        text_cache_dir: Arrow cache folder for tokenised texts.

    Returns:
        A loader yielding ``tower.collate`` batches, never augmented, every item once in order.
    """
    mod = modality or _tower_modality(tower) or "image"
    if mod not in ("text", "image"):
        raise ConfigError(f"item loader: modality must be 'text' or 'image', got {mod!r}")
    enc = ItemEncoder(tower, mod, texts=items if mod == "text" else (), cache_dir=text_cache_dir)  # type: ignore[arg-type]
    sampler = IndexBatchSampler(len(items), batch_size, shuffle=False)
    return _loader(SingleItems(items, enc), sampler, ItemCollator(tower), LoaderConfig(num_workers=num_workers))


def set_epoch(loader: DataLoader[Any], epoch: int, start_batch: int = 0) -> None:
    """Prepare ``loader`` for ``epoch``: re-draw pairs/triplets/augmentation and batch order.

    Args:
        loader: A loader from :func:`build_loader` (or any loader whose dataset / sampler has ``set_epoch``).
        epoch: Epoch number.
        start_batch: Skip this many of the epoch's batches (to resume mid-epoch exactly).
    """
    for obj in (loader.dataset, loader.sampler, loader.batch_sampler):
        fn = getattr(obj, "set_epoch", None)
        if fn is None:
            continue
        if isinstance(obj, EpochBatchSampler):
            obj.set_epoch(epoch, start_batch)
        else:
            fn(epoch)
