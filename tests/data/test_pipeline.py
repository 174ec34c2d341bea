"""Tests of pairsim.data.pipeline with fake towers: which items reach which slot of which batch, per row shape."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.data.pipeline import Batches, side_inputs
from pairsim.data.samplers import AlignedConfig, Consumes, PairsConfig, PKConfig, fixed_pairs
from pairsim.data.sources import load_dataset
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import ConfigError, DataError
from pairsim.images import load_image
from pairsim.towers.augment import AugmentConfig
from pairsim.towers.base import TextTower, TowerConfig
from pairsim.towers.cnn import CNNConfig, CNNTower

QUORA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "quora"
PAIRS = Consumes(("a", "b"), "binary")
GRADED = Consumes(("a", "b"), "graded")
TRIPLETS = Consumes(("a", "b", "b"), sampler="triplets")
CLASSES = Consumes(("a",), "class", sampler="pk")
ALIGNED = Consumes(("a", "b"), sampler="aligned")


def code(text: str) -> int:
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def thumb(tower: Any, item: Any) -> bytes:
    """The fake image tower's features of an item, as bytes (to recognise it inside a batch)."""
    return tower.featurize([load_image(item)])[0]["pixels"].numpy().tobytes()


def everything(feed: Batches, epoch: int = 0) -> list[Any]:
    return list(feed.epoch(epoch))


def test_pairs_from_labelled_items_label_same_subject(faces: Splits[LabelledItems], image_tower: Any) -> None:
    data = faces.test  # s5, s6, s7
    subject = {thumb(image_tower, p): y for p, y in zip(data.items, data.labels, strict=True)}
    assert len(subject) == len(data)  # thumbnails identify the images
    rows = 0
    for batch_a, batch_b, labels in everything(Batches(data, PAIRS, (image_tower,) * 2, batch_size=8, train=False)):
        assert batch_a["pixels"].shape == batch_b["pixels"].shape == (len(labels), 8, 8)
        assert labels.dtype == torch.float32
        for pa, pb, y in zip(batch_a["pixels"], batch_b["pixels"], labels, strict=True):
            same = subject[pa.numpy().tobytes()] == subject[pb.numpy().tobytes()]
            assert same == (y.item() == 1.0)
            rows += 1
    assert rows == len(data)


def test_pairs_from_a_table_keep_order_and_labels(mrpc: Splits[PairTable], text_tower: Any) -> None:
    table = mrpc.val
    batches = everything(Batches(table, PAIRS, (text_tower,) * 2, batch_size=50, train=False))
    batch_a, batch_b, labels = batches[0]
    assert batch_a["code"].tolist() == [code(t) for t in table.a[:50]]
    assert batch_b["x"].tolist() == [len(t) for t in table.b[:50]]
    assert labels.tolist() == table.labels[:50]
    assert sum(len(lb) for _, _, lb in batches) == len(table)


def test_graded_target_gives_scores_where_the_table_has_them(data_env: Path, text_tower: Any) -> None:
    splits = load_dataset({"name": "stsb", "limit": 60})
    _, _, scores = everything(Batches(splits.test, GRADED, (text_tower,) * 2, batch_size=60, train=False))[0]
    assert scores.tolist() == pytest.approx(splits.test.scores)
    assert scores.max() > 1.0  # not the 0/1 labels
    mrpc = load_dataset({"name": "mrpc", "limit": 50}).test  # no scores: the 0/1 labels
    _, _, labels = everything(Batches(mrpc, GRADED, (text_tower,) * 2, batch_size=len(mrpc), train=False))[0]
    assert labels.tolist() == mrpc.labels


class CountingWords(TextTower):
    """A text tower whose ``tokenize`` counts the texts it sees."""

    def __init__(self) -> None:
        super().__init__(TowerConfig(name="counting"))
        self.tokenizer, self.seen = object(), 0

    def tokenize(self, texts: list[str]) -> list[dict[str, Any]]:
        self.seen += len(texts)
        return [{"code": code(t)} for t in texts]

    def collate(self, features: Any) -> dict[str, torch.Tensor]:
        return {"code": torch.tensor([f["code"] for f in features])}  # (B,)


def test_text_towers_tokenise_each_distinct_text_once(mrpc: Splits[PairTable]) -> None:
    table, tower = mrpc.val, CountingWords()
    feed = Batches(table, PAIRS, (tower, tower), batch_size=64)
    seen = [c for epoch in range(2) for a, b, _ in feed.epoch(epoch) for c in a["code"].tolist() + b["code"].tolist()]
    assert tower.seen == len(set(seen)) <= len(set(table.a) | set(table.b))  # two epochs, each text tokenised once
    workers = CountingWords()
    Batches(table, PAIRS, (workers, workers), batch_size=64, num_workers=2)  # tokenised up front, once
    assert workers.seen == len(set(table.a) | set(table.b))
    tower.tokenizer = object()  # a new vocabulary: cached ids are stale
    tower.featurize([table.a[0]])
    assert tower.seen == len(set(seen)) + 1


def test_triplets_and_classes_batches(omniglot_slice: Splits[LabelledItems], image_tower: Any) -> None:
    data = omniglot_slice.val
    anchor, positive, negative = everything(Batches(data, TRIPLETS, (image_tower,) * 2, batch_size=6))[0]
    assert anchor["pixels"].shape == positive["pixels"].shape == negative["pixels"].shape == (6, 8, 8)
    pk = PKConfig(classes_per_batch=5, samples_per_class=3)
    batch, labels = everything(Batches(data, CLASSES, (image_tower,) * 2, pk))[0]
    assert batch["pixels"].shape == (15, 8, 8) and labels.dtype == torch.long
    assert sorted(labels.tolist().count(c) for c in set(labels.tolist())) == [3] * 5


@pytest.mark.parametrize("image_side", ["a", "b"])
def test_aligned_caption_matches_its_image(
    flickr_slice: Splits[CaptionImages], image_tower: Any, text_tower: Any, image_side: str
) -> None:
    data = CaptionImages(**{**vars(flickr_slice.val), "image_side": image_side})
    image_of = {thumb(image_tower, p): i for i, p in enumerate(data.images)}
    caption_of = {code(c): i for i, c in enumerate(data.captions)}
    towers = (image_tower, text_tower) if image_side == "a" else (text_tower, image_tower)
    n = 0
    for batch_a, batch_b in everything(Batches(data, ALIGNED, towers, batch_size=5, train=False)):
        images, texts = (batch_a, batch_b) if image_side == "a" else (batch_b, batch_a)
        img = [image_of[p.numpy().tobytes()] for p in images["pixels"]]
        cap = [caption_of[c] for c in texts["code"].tolist()]
        assert img == [data.caption_image[c] for c in cap]  # caption i matches image i
        assert len(set(img)) == len(img)  # no two captions of one image
        n += len(cap)
    assert n == len(data.captions)
    assert side_inputs(data)[0 if image_side == "a" else 1] == data.images  # adapt sees each side's own inputs


def test_caption_pairs_are_labelled_by_match(
    flickr_slice: Splits[CaptionImages], image_tower: Any, text_tower: Any
) -> None:
    data = flickr_slice.val
    image_of = {thumb(image_tower, p): i for i, p in enumerate(data.images)}
    caption_of = {code(c): i for i, c in enumerate(data.captions)}
    total = []
    for texts, images, labels in everything(
        Batches(data, PAIRS, (text_tower, image_tower), batch_size=10, train=False)
    ):
        for p, c, y in zip(images["pixels"], texts["code"].tolist(), labels.tolist(), strict=True):
            match = data.caption_image[caption_of[c]] == image_of[p.numpy().tobytes()]
            assert match == (y == 1.0)
            total.append(y)
    assert len(total) == len(data.captions) and 0.3 < np.mean(total) < 0.7


def test_aligned_table_batches_use_only_similar_pairs(text_tower: Any) -> None:
    splits = load_dataset({"name": "quora", "path": str(QUORA)})
    feed = Batches(splits.train, ALIGNED, (text_tower,) * 2, AlignedConfig(drop_last=False), batch_size=4)
    positives = splits.train.subset([i for i, y in enumerate(splits.train.labels) if y >= 0.5])
    pairs = {(code(a), code(b)) for a, b in zip(positives.a, positives.b, strict=True)}
    seen = [(a, b) for ba, bb in feed.epoch(0) for a, b in zip(ba["code"].tolist(), bb["code"].tolist(), strict=True)]
    assert len(seen) == len(positives) and set(seen) == pairs


def test_aligned_table_batches_never_repeat_a_sentence(text_tower: Any) -> None:
    """A sentence in two similar pairs must not sit twice in one in-batch-negative batch (a false negative)."""
    a = ["q0", "q0", "q0", "q1", "q2", "q3", "q4", "q5"]
    b = ["r0", "r1", "r2", "r3", "r4", "r5", "r0", "r6"]
    table = PairTable(a=a, b=b, labels=[1.0] * 8)
    for epoch in range(4):
        batches = everything(
            Batches(table, ALIGNED, (text_tower,) * 2, AlignedConfig(drop_last=False), batch_size=4), epoch
        )
        for ba, bb in batches:
            assert len(set(ba["code"].tolist())) == len(ba["code"]) and len(set(bb["code"].tolist())) == len(bb["code"])
        assert sum(len(ba["code"]) for ba, _ in batches) == 8


def small_cnn(augment: bool, **extra: Any) -> CNNTower:
    aug = AugmentConfig(enabled=augment, probability=1.0, **extra)
    return CNNTower(CNNConfig(name="cnn", arch="face", width=0.25, out_dim=4, image_size=[16, 16], augment=aug))


def pixels(feed: Batches, epoch: int, start: int = 0, limit: int = 3) -> list[torch.Tensor]:
    return [
        torch.cat([a["pixel_values"], b["pixel_values"]]) for a, b, _ in feed.epoch(epoch, start=start, limit=limit)
    ]


def test_augmentation_is_training_only_and_reproducible(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.val
    aug, plain = small_cnn(True), small_cnn(False)
    augmented = Batches(data, PAIRS, (aug, aug), batch_size=8)
    unaugmented = Batches(data, PAIRS, (plain, plain), batch_size=8)
    first = pixels(augmented, 0)
    assert all(torch.equal(u, v) for u, v in zip(first, pixels(augmented, 0), strict=True))
    assert not any(torch.equal(u, v) for u, v in zip(first, pixels(unaugmented, 0), strict=True))
    assert not torch.equal(first[0], pixels(augmented, 1)[0])
    val_aug = Batches(data, PAIRS, (aug, aug), batch_size=8, train=False)
    val_plain = Batches(data, PAIRS, (plain, plain), batch_size=8, train=False)
    assert torch.equal(pixels(val_aug, 0, limit=1)[0], pixels(val_plain, 0, limit=1)[0])  # never augmented
    assert torch.equal(pixels(val_aug, 0, limit=1)[0], pixels(val_aug, 5, limit=1)[0])  # val pairs are fixed


def test_augmentation_is_drawn_afresh_each_epoch(omniglot_slice: Splits[LabelledItems]) -> None:
    table = fixed_pairs(omniglot_slice.test, num_pairs=20, seed=0)  # image pairs that stay the same every epoch
    tower = small_cnn(True)
    feed = Batches(table, PAIRS, (tower, tower), batch_size=4)
    views = []
    for epoch in (0, 1, 0):
        where = next((n, list(r.index[:, 0]).index(3)) for n, r in enumerate(feed.rows(epoch)) if 3 in r.index[:, 0])
        batch = next(iter(feed.epoch(epoch, start=where[0], limit=where[0] + 1)))
        views.append(batch[0]["pixel_values"][where[1]])
    assert not torch.equal(views[0], views[1]) and torch.equal(views[0], views[2])


def test_workers_and_resume_give_the_same_batches(faces: Splits[LabelledItems]) -> None:
    tower = small_cnn(True, hflip=True)
    single = Batches(faces.train, PAIRS, (tower, tower), batch_size=8)
    workers = Batches(faces.train, PAIRS, (tower, tower), batch_size=8, num_workers=2)
    full = pixels(single, 2, limit=5)
    assert all(torch.equal(u, v) for u, v in zip(full, pixels(workers, 2, limit=5), strict=True))
    resumed = pixels(single, 2, start=3, limit=5)
    assert len(resumed) == 2 and all(torch.equal(u, v) for u, v in zip(full[3:], resumed, strict=True))


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
    feed = Batches(
        data, CLASSES, (image_tower,) * 2, PKConfig(classes_per_batch=3, samples_per_class=3, batches_per_epoch=4)
    )
    with pytest.raises(DataError, match=r"cannot read image .*c1/broken\.png"):
        list(feed.epoch(0))
    missing = LabelledItems(items=[str(tmp_path / "gone.png")] * 2 + data.items[:2], labels=[0, 0, 1, 1])
    with pytest.raises(DataError, match=r"image file not found: .*gone\.png"):
        list(Batches(missing, PAIRS, (image_tower,) * 2, batch_size=4, train=False).epoch(0))


def test_wrong_rows_and_modalities_are_config_errors(
    mrpc: Splits[PairTable], text_tower: Any, image_tower: Any, faces: Splits[LabelledItems]
) -> None:
    with pytest.raises(ConfigError, match="sampler 'triplets' needs class-labelled items, not PairTable"):
        Batches(mrpc.val, TRIPLETS, (text_tower,) * 2)
    with pytest.raises(ConfigError, match="sampler 'aligned' needs pair or caption-image data"):
        Batches(faces.train, ALIGNED, (image_tower,) * 2)
    with pytest.raises(ConfigError, match="tower_a is a image tower but side a of the data holds text items"):
        Batches(mrpc.val, PAIRS, (image_tower, text_tower))
    with pytest.raises(
        ConfigError, match="unknown sampler 'quads'; valid samplers: aligned, episodes, hard_negatives, margins, pairs"
    ):
        Batches(mrpc.val, Consumes(("a", "b"), sampler="quads"), (text_tower,) * 2)
    with pytest.raises(ConfigError, match=r"sampler 'pairs' makes rows of sides \('a', 'b'\) but the loss consumes"):
        Batches(mrpc.val, TRIPLETS, (text_tower,) * 2, PairsConfig())
    with pytest.raises(ConfigError, match="sampler 'aligned' gives no targets but the loss needs binary targets"):
        Batches(mrpc.val, PAIRS, (text_tower,) * 2, AlignedConfig())
    with pytest.raises(ConfigError, match="sampler 'pk' gives class targets but the loss needs episode targets"):
        Batches(faces.train, Consumes(("a",), "episode"), (image_tower,) * 2, PKConfig())


def test_empty_split_and_too_large_batch_are_data_errors(faces: Splits[LabelledItems], image_tower: Any) -> None:
    with pytest.raises(DataError, match="the split is empty"):
        Batches(LabelledItems(items=[], labels=[]), PAIRS, (image_tower,) * 2)
    with pytest.raises(DataError, match="30 samples give no full batch of 64"):
        Batches(faces.test, PAIRS, (image_tower,) * 2, batch_size=64)
    with pytest.raises(DataError, match="class 1 has 1 example"):
        Batches(LabelledItems(items=faces.test.items[:3], labels=[0, 0, 1]), CLASSES, (image_tower,) * 2)
    with pytest.raises(ConfigError, match=r"train\.batch_size: 10 does not split evenly over 4 processes"):
        Batches(faces.train, PAIRS, (image_tower,) * 2, batch_size=10, world_size=4)
    with pytest.raises(DataError, match=r"rank 2 is outside 0\.\.1"):
        Batches(faces.train, PAIRS, (image_tower,) * 2, batch_size=10, rank=2, world_size=2)


def test_a_table_with_text_on_side_a_and_images_on_side_b(tmp_path: Path, text_tower: Any, image_tower: Any) -> None:
    """Each side has its own modality: titles next to image paths (relative to the table's folder)."""
    for i in range(4):
        Image.new("L", (12, 12), 60 * i).save(tmp_path / f"{i}.png")
    rows = ["title,image,label"] + [f"title {i},{i}.png,{i % 2}" for i in range(4)]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    config = {"name": "pair_table", "path": str(tmp_path / "pairs.csv"), "text_a": "title", "text_b": "image"}
    config.update({"modality_b": "image", "val_fraction": 0.0, "test_fraction": 0.0, "cache_dir": str(tmp_path / "c")})
    table = load_dataset({**config, "val_path": str(tmp_path / "pairs.csv"), "test_path": str(tmp_path / "pairs.csv"),
                          "drop_test_overlap": False}).train  # fmt: skip
    assert (table.side_modality("a"), table.side_modality("b")) == ("text", "image")
    texts, images, labels = everything(Batches(table, PAIRS, (text_tower, image_tower), batch_size=4, train=False))[0]
    assert texts["code"].tolist() == [code(f"title {i}") for i in range(4)]
    assert [thumb(image_tower, tmp_path / f"{i}.png") for i in range(4)] == [
        p.numpy().tobytes() for p in images["pixels"]
    ]
    assert labels.tolist() == [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(ConfigError, match="tower_b is a text tower but side b of the data holds image items"):
        Batches(table, PAIRS, (text_tower, text_tower))


def test_augmented_batches_of_two_processes_equal_one_process(faces: Splits[LabelledItems]) -> None:
    """Each item's augmentation is named by its place in the global batch, not by the process that loads it."""
    tower = small_cnn(True, hflip=True)
    single = pixels(Batches(faces.train, PAIRS, (tower, tower), batch_size=8), 1, limit=2)
    ranks = [
        pixels(Batches(faces.train, PAIRS, (tower, tower), batch_size=8, rank=r, world_size=2), 1, limit=2)
        for r in range(2)
    ]
    for step, whole in enumerate(single):  # pixels() stacks side a then side b: (2B, C, H, W)
        a = torch.cat([ranks[0][step][:4], ranks[1][step][:4]])
        b = torch.cat([ranks[0][step][4:], ranks[1][step][4:]])
        assert torch.equal(torch.cat([a, b]), whole)
