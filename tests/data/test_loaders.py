"""Tests of pairsim.data.loaders with fake towers: which items reach which batch, for every batch kind."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.data.augment import AugmentConfig
from pairsim.data.loaders import LoaderConfig, build_loader, build_loaders, item_loader, set_epoch
from pairsim.data.sampling import fixed_pairs
from pairsim.data.sources import load_dataset
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import ConfigError, DataError
from pairsim.images import load_image

QUORA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "quora"


def code(text: str) -> int:
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def thumb(tower: Any, item: Any) -> bytes:
    """The fake image tower's features of an item, as bytes (to recognise it inside a batch)."""
    return tower.featurize([load_image(item)])[0]["pixels"].numpy().tobytes()


def test_pairs_from_labelled_items_label_same_subject(faces: Splits[LabelledItems], image_tower: Any) -> None:
    data = faces.test  # s5, s6, s7
    subject = {thumb(image_tower, p): y for p, y in zip(data.items, data.labels, strict=True)}
    assert len(subject) == len(data)  # thumbnails identify the images
    loader = build_loader(data, "pairs", image_tower, config=LoaderConfig(batch_size=8), train=False)
    rows = 0
    for batch_a, batch_b, labels in loader:
        assert batch_a["pixels"].shape == batch_b["pixels"].shape == (len(labels), 8, 8)
        assert labels.dtype == torch.float32
        for pa, pb, y in zip(batch_a["pixels"], batch_b["pixels"], labels, strict=True):
            same = subject[pa.numpy().tobytes()] == subject[pb.numpy().tobytes()]
            assert same == (y.item() == 1.0)
            rows += 1
    assert rows == len(data)


def test_pairs_from_a_table_keep_order_and_labels(mrpc: Splits[PairTable], text_tower: Any) -> None:
    table = mrpc.val
    loader = build_loader(table, "pairs", text_tower, config=LoaderConfig(batch_size=50), train=False)
    batch_a, batch_b, labels = next(iter(loader))
    assert batch_a["code"].tolist() == [code(t) for t in table.a[:50]]
    assert batch_b["x"].tolist() == [len(t) for t in table.b[:50]]
    assert labels.tolist() == table.labels[:50]
    assert sum(len(lb) for _, _, lb in loader) == len(table)


def test_pair_target_score_gives_graded_scores(data_env: Path, text_tower: Any) -> None:
    splits = load_dataset({"name": "stsb", "limit": 60})
    loader = build_loader(
        splits.test, "pairs", text_tower, config=LoaderConfig(batch_size=60, pair_target="score"), train=False
    )
    _, _, scores = next(iter(loader))
    assert scores.tolist() == pytest.approx(splits.test.scores)
    assert scores.max() > 1.0  # not the 0/1 labels
    with pytest.raises(DataError, match="pair_target: score needs a table with graded scores"):
        build_loader(
            load_dataset({"name": "mrpc", "limit": 50}).test,
            "pairs",
            text_tower,
            config=LoaderConfig(pair_target="score"),
        )


def test_each_distinct_text_is_tokenised_once(mrpc: Splits[PairTable], text_tower: Any) -> None:
    table = mrpc.val
    loader = build_loader(table, "pairs", text_tower, config=LoaderConfig(batch_size=64))
    distinct = len(set(table.a) | set(table.b))
    assert text_tower.calls == distinct
    for _ in loader:
        pass
    assert text_tower.calls == distinct  # batches read the pre-tokenised features


def test_tokenised_texts_are_cached_on_disk(mrpc: Splits[PairTable], tmp_path: Path, text_tower: Any) -> None:
    cfg = LoaderConfig(batch_size=16, text_cache_dir=str(tmp_path / "tokens"))
    first, second = text_tower, type(text_tower)()
    build_loader(mrpc.val, "aligned", first, config=cfg)
    assert first.calls > 0 and list((tmp_path / "tokens").glob("tokens-*.arrow"))
    loader = build_loader(mrpc.val, "aligned", second, config=cfg)
    assert second.calls == 0  # read back from the Arrow cache
    batch_a, _ = next(iter(loader))
    positives = mrpc.val.positives()
    assert set(batch_a["code"].tolist()) <= {code(t) for t in positives.a}


def test_triplets_and_classes_batches(omniglot_slice: Splits[LabelledItems], image_tower: Any) -> None:
    data = omniglot_slice.val
    anchor, positive, negative = next(
        iter(build_loader(data, "triplets", image_tower, config=LoaderConfig(batch_size=6)))
    )
    assert anchor["pixels"].shape == positive["pixels"].shape == negative["pixels"].shape == (6, 8, 8)
    cfg = LoaderConfig(classes_per_batch=5, samples_per_class=3)
    batch, labels = next(iter(build_loader(data, "classes", image_tower, config=cfg)))
    assert batch["pixels"].shape == (15, 8, 8) and labels.dtype == torch.long
    assert sorted(labels.tolist().count(c) for c in set(labels.tolist())) == [3] * 5


def test_aligned_caption_matches_its_image(
    flickr_slice: Splits[CaptionImages], image_tower: Any, text_tower: Any
) -> None:
    data = flickr_slice.val
    image_of = {thumb(image_tower, p): i for i, p in enumerate(data.images)}
    caption_of = {code(c): i for i, c in enumerate(data.captions)}
    cfg = LoaderConfig(batch_size=5)
    for tower_a, tower_b in ((image_tower, text_tower), (text_tower, image_tower)):
        loader = build_loader(data, "aligned", tower_a, tower_b, config=cfg, train=False)
        n = 0
        for batch_a, batch_b in loader:
            images, texts = (batch_a, batch_b) if tower_a is image_tower else (batch_b, batch_a)
            img = [image_of[p.numpy().tobytes()] for p in images["pixels"]]
            cap = [caption_of[c] for c in texts["code"].tolist()]
            assert img == [data.caption_image[c] for c in cap]  # caption i matches image i
            assert len(set(img)) == len(img)  # no two captions of one image
            n += len(cap)
        assert n == len(data.captions)


def test_caption_pairs_are_labelled_by_match(
    flickr_slice: Splits[CaptionImages], image_tower: Any, text_tower: Any
) -> None:
    data = flickr_slice.val
    image_of = {thumb(image_tower, p): i for i, p in enumerate(data.images)}
    caption_of = {code(c): i for i, c in enumerate(data.captions)}
    loader = build_loader(data, "pairs", image_tower, text_tower, config=LoaderConfig(batch_size=10), train=False)
    total = []
    for images, texts, labels in loader:
        for p, c, y in zip(images["pixels"], texts["code"].tolist(), labels.tolist(), strict=True):
            match = data.caption_image[caption_of[c]] == image_of[p.numpy().tobytes()]
            assert match == (y == 1.0)
            total.append(y)
    assert len(total) == len(data.captions) and 0.3 < np.mean(total) < 0.7


def test_aligned_table_batches_use_only_similar_pairs(text_tower: Any) -> None:
    splits = load_dataset({"name": "quora", "path": str(QUORA)})
    loader = build_loader(splits.train, "aligned", text_tower, config=LoaderConfig(batch_size=4, drop_last=False))
    positives = splits.train.positives()
    pairs = {(code(a), code(b)) for a, b in zip(positives.a, positives.b, strict=True)}
    seen = [(a, b) for ba, bb in loader for a, b in zip(ba["code"].tolist(), bb["code"].tolist(), strict=True)]
    assert len(seen) == len(positives) and set(seen) == pairs


def _pixels(loader: Any, epoch: int, start_batch: int = 0, limit: int = 3) -> list[torch.Tensor]:
    set_epoch(loader, epoch, start_batch)
    out = []
    for i, (batch_a, batch_b, _) in enumerate(loader):
        if i >= limit:
            break
        out.append(torch.cat([batch_a["pixels"], batch_b["pixels"]]))
    return out


def test_augmentation_is_training_only_and_reproducible(
    omniglot_slice: Splits[LabelledItems], image_tower: Any
) -> None:
    data = omniglot_slice.val
    aug = LoaderConfig(batch_size=8, augment=AugmentConfig(enabled=True, probability=1.0))
    plain = LoaderConfig(batch_size=8)
    augmented = build_loader(data, "pairs", image_tower, config=aug)
    unaugmented = build_loader(data, "pairs", image_tower, config=plain)
    first = _pixels(augmented, 0)
    assert all(torch.equal(u, v) for u, v in zip(first, _pixels(augmented, 0), strict=True))
    assert not any(torch.equal(u, v) for u, v in zip(first, _pixels(unaugmented, 0), strict=True))
    assert not torch.equal(first[0], _pixels(augmented, 1)[0])
    train, val = build_loaders(omniglot_slice, "pairs", image_tower, config=aug)
    assert train.dataset.enc_a.augmenter is not None and val.dataset.enc_a.augmenter is None
    assert torch.equal(_pixels(val, 0, limit=1)[0], _pixels(val, 5, limit=1)[0])  # val pairs are fixed


def test_augmentation_is_drawn_afresh_each_epoch(omniglot_slice: Splits[LabelledItems], image_tower: Any) -> None:
    table = fixed_pairs(omniglot_slice.test, num_pairs=20, seed=0)  # image pairs that stay the same every epoch
    cfg = LoaderConfig(batch_size=4, augment=AugmentConfig(enabled=True, probability=1.0))
    loader = build_loader(table, "pairs", image_tower, config=cfg)
    views = []
    for epoch in (0, 1, 0):
        set_epoch(loader, epoch)
        views.append(loader.dataset[3][0]["pixels"])
    assert not torch.equal(views[0], views[1]) and torch.equal(views[0], views[2])


def test_workers_and_resume_give_the_same_batches(faces: Splits[LabelledItems], image_tower: Any) -> None:
    aug = AugmentConfig(enabled=True, hflip=True)
    single = build_loader(faces.train, "pairs", image_tower, config=LoaderConfig(batch_size=8, augment=aug))
    workers = build_loader(
        faces.train, "pairs", image_tower, config=LoaderConfig(batch_size=8, augment=aug, num_workers=2)
    )
    full = _pixels(single, 2, limit=5)
    assert all(torch.equal(u, v) for u, v in zip(full, _pixels(workers, 2, limit=5), strict=True))
    resumed = _pixels(single, 2, start_batch=3, limit=2)
    assert all(torch.equal(u, v) for u, v in zip(full[3:], resumed, strict=True))
    assert single.pin_memory == torch.cuda.is_available()


def test_item_loader_keeps_order(text_tower: Any, faces: Splits[LabelledItems], image_tower: Any) -> None:
    texts = ["a", "bbb", "cc", "a", "dddd"]
    batches = list(item_loader(texts, text_tower, batch_size=2))
    assert [x for b in batches for x in b["x"].tolist()] == [1, 3, 2, 1, 4]
    images = list(item_loader(faces.test.items[:5], image_tower, batch_size=4))
    assert [b["pixels"].shape[0] for b in images] == [4, 1]


def _image_folder(root: Path, broken: str | None = None) -> LabelledItems:
    for c in range(3):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(2):
            Image.new("L", (12, 12), 40 * c + i).save(root / f"c{c}" / f"{i}.png")
    if broken:
        (root / "c1" / broken).write_bytes(b"not a png")
    return load_dataset(
        {"name": "image_folder", "path": str(root), "split_by": "item", "val_fraction": 0.0, "test_fraction": 0.0}
    ).train


def test_unreadable_image_names_the_file(tmp_path: Path, image_tower: Any) -> None:
    data = _image_folder(tmp_path / "imgs", broken="broken.png")
    loader = build_loader(data, "classes", image_tower, train=False)
    with pytest.raises(DataError, match=r"cannot read image .*c1/broken\.png"):
        list(loader)
    missing = LabelledItems(items=[str(tmp_path / "gone.png")] * 2 + data.items[:2], labels=[0, 0, 1, 1])
    with pytest.raises(DataError, match=r"image file not found: .*gone\.png"):
        list(build_loader(missing, "pairs", image_tower, config=LoaderConfig(batch_size=4), train=False))


def test_wrong_kinds_and_modalities_are_config_errors(
    mrpc: Splits[PairTable], text_tower: Any, image_tower: Any, faces: Splits[LabelledItems]
) -> None:
    with pytest.raises(ConfigError, match="batch kind 'triplets' needs class-labelled items, not a pair table"):
        build_loader(mrpc.val, "triplets", text_tower)
    with pytest.raises(ConfigError, match="'aligned' needs caption-image or pair-table data"):
        build_loader(faces.train, "aligned", image_tower)
    with pytest.raises(ConfigError, match="tower_a is a image tower but the data on that side holds text items"):
        build_loader(mrpc.val, "pairs", image_tower)
    with pytest.raises(ConfigError, match="unknown batch kind 'quads'"):
        build_loader(mrpc.val, "quads", text_tower)


def test_empty_split_and_too_large_batch_are_data_errors(faces: Splits[LabelledItems], image_tower: Any) -> None:
    with pytest.raises(DataError, match="the split is empty"):
        build_loader(LabelledItems(items=[], labels=[]), "pairs", image_tower)
    with pytest.raises(DataError, match="30 samples give no full batch of 64"):
        build_loader(faces.test, "pairs", image_tower, config=LoaderConfig(batch_size=64))
    with pytest.raises(DataError, match="class 1 has 1 example"):
        build_loader(LabelledItems(items=faces.test.items[:3], labels=[0, 0, 1]), "classes", image_tower)
