"""Caption-image retrieval metrics on a hand-ranked 4 x 3 score matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from pairsim.errors import DataError
from pairsim.metrics import retrieval, retrieval_metrics

# Captions 0, 1 describe image 0; captions 2, 3 image 1; image 2 has no caption (a distractor).
SIM = np.array(
    [
        [0.9, 0.2, 0.1],  # caption 0: its image 0 ranks 1st
        [0.3, 0.5, 0.4],  # caption 1: image 0 (0.3) ranks 3rd
        [0.1, 0.4, 0.6],  # caption 2: image 1 (0.4) ranks 2nd
        [0.2, 0.45, 0.3],  # caption 3: image 1 ranks 1st
    ]
)
CAPTION_IMAGE = np.array([0, 0, 1, 1])
# Text -> image ranks: 1, 3, 2, 1 -> R@1 = 2/4, R@2 = 3/4, R@3 = 1, median 1.5.
# Image -> text: image 0's column (0.9, 0.3, 0.1, 0.2) ranks caption 0 1st -> best rank 1.
# Image 1's column (0.2, 0.5, 0.4, 0.45): caption 2 (0.4) 3rd, caption 3 (0.45) 2nd -> best rank 2.
# So R@1 = 1/2, R@2 = 1, median 1.5 over the 2 images that have captions.
EXPECTED = {
    "t2i_recall@1": 0.5,
    "t2i_recall@2": 0.75,
    "t2i_recall@3": 1.0,
    "t2i_median_rank": 1.5,
    "i2t_recall@1": 0.5,
    "i2t_recall@2": 1.0,
    "i2t_recall@3": 1.0,
    "i2t_median_rank": 1.5,
    "n_captions": 4,
    "n_images": 3,
    "n_query_images": 2,
}


def test_hand_ranked_matrix() -> None:
    assert retrieval_metrics(SIM, CAPTION_IMAGE, higher_is_similar=True, ks=(1, 2, 3)) == EXPECTED


def test_distance_equal_to_negated_similarity_gives_identical_metrics() -> None:
    assert retrieval_metrics(-SIM, CAPTION_IMAGE, higher_is_similar=False, ks=(1, 2, 3)) == EXPECTED
    wrong_way = retrieval_metrics(-SIM, CAPTION_IMAGE, higher_is_similar=True, ks=(1, 2, 3))
    assert wrong_way["t2i_recall@1"] == 0.25  # read backwards, only caption 1 (its image scored lowest) hits


def test_default_ks_and_key_order() -> None:
    m = retrieval_metrics(SIM, CAPTION_IMAGE, higher_is_similar=True)
    assert list(m)[:4] == ["t2i_recall@1", "t2i_recall@5", "t2i_recall@10", "t2i_median_rank"]
    assert m["t2i_recall@5"] == 1.0  # fewer images than K: every caption is a hit


def test_ties_count_against_the_query() -> None:
    m = retrieval_metrics(np.ones((2, 2)), [0, 1], higher_is_similar=True, ks=(1, 2))
    assert (m["t2i_recall@1"], m["t2i_recall@2"], m["t2i_median_rank"]) == (0.0, 1.0, 2.0)
    assert (m["i2t_recall@1"], m["i2t_median_rank"]) == (0.0, 2.0)


def test_an_image_is_not_ranked_below_its_own_tied_captions() -> None:
    sim = np.array(
        [
            [0.9, 0.1, 0.2],  # caption 0 of image 0
            [0.9, 0.3, 0.1],  # caption 1 of image 0: tied with caption 0 at the top of image 0's column
            [0.5, 0.8, 0.8],  # caption 2 of image 1
            [0.2, 0.8, 0.9],  # caption 3 of image 2: tied with caption 2 in image 1's column
            [0.1, 0.2, 0.9],  # caption 4 of image 2: tied with caption 3 in image 2's column
        ]
    )
    m = retrieval_metrics(sim, [0, 0, 1, 2, 2], higher_is_similar=True, ks=(1, 2))
    # image 0: both own captions at 0.9, nothing else >= 0.9 -> rank 1 (the old rule said 2).
    # image 1: own best 0.8, caption 3 (image 2) ties at 0.8 -> rank 2 (a tie with a wrong caption counts).
    # image 2: own best 0.9, no other caption >= 0.9 -> rank 1.
    assert (m["i2t_recall@1"], m["i2t_recall@2"], m["i2t_median_rank"]) == (pytest.approx(2 / 3), 1.0, 1.0)
    distances = retrieval_metrics(-sim, [0, 0, 1, 2, 2], higher_is_similar=False, ks=(1, 2))
    assert distances == m


def test_chunked_ranks_match_scipy_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval, "_CHUNK", 7)  # many chunks with a ragged last one
    rng = np.random.default_rng(0)
    n_images, per_image = 20, 3
    caption_image = np.repeat(np.arange(n_images), per_image)
    sim = np.round(rng.normal(size=(n_images * per_image, n_images)), 1)  # rounded: ties happen
    m = retrieval_metrics(sim, caption_image, higher_is_similar=True, ks=(1, 5))
    # Reference: "max" ranks of the negated scores put tied items at their worst rank.
    t2i = rankdata(-sim, method="max", axis=1)[np.arange(sim.shape[0]), caption_image]
    # Image -> text, by hand: 1 + the other images' captions scoring at least the image's best own caption.
    i2t = np.array(
        [1 + int((sim[caption_image != j, j] >= sim[caption_image == j, j].max()).sum()) for j in range(n_images)]
    )
    assert m["t2i_recall@5"] == pytest.approx(np.mean(t2i <= 5))
    assert m["t2i_median_rank"] == np.median(t2i)
    assert m["i2t_recall@1"] == pytest.approx(np.mean(i2t <= 1))
    assert m["i2t_recall@5"] == pytest.approx(np.mean(i2t <= 5))
    assert m["i2t_median_rank"] == np.median(i2t)


@pytest.mark.parametrize(
    ("sim", "caption_image", "ks", "message"),
    [
        (SIM, [0, 0, 1], (1,), "one image index per caption"),
        (SIM, [0, 0, 1, 3], (1,), r"in \[0, 2\]"),
        (SIM, [0.0, 0.0, 1.0, 1.0], (1,), "integer"),
        (SIM[0], [0], (1,), "matrix"),
        (SIM, CAPTION_IMAGE, (0,), "positive integers"),
        (SIM, CAPTION_IMAGE, (), "positive integers"),
        (np.full((1, 2), np.inf), [0], (1,), "infinite"),
    ],
)
def test_bad_inputs_raise_data_errors(sim: np.ndarray, caption_image: list, ks: tuple, message: str) -> None:
    with pytest.raises(DataError, match=message):
        retrieval_metrics(sim, caption_image, higher_is_similar=True, ks=ks)
