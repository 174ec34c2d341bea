"""``evaluate_split``: the metrics that fit each kind of data, the threshold rules, plots, the primary metric.

Values are checked against the metric functions applied to the model's own scores, and against inputs
built so the answer is known: items of one class that are copies of one image (distance 0 within a class)
give perfect verification, one-shot and retrieval results.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from pairsim.data import CaptionImages, DatasetConfig, Episode, LabelledItems, PairTable, Source
from pairsim.data.episodes import FixedEpisodes
from pairsim.data.sources.base import ExtraEvaluation
from pairsim.errors import ConfigError
from pairsim.evaluate import evaluate_split, improved, primary_metric, save_eval_plots, save_graded_plot
from pairsim.metrics import calibrate_threshold, verification_metrics
from pairsim.model import PairModel
from pairsim.recipe import EvalConfig

THRESHOLD_KEYS = {"accuracy", "f1", "precision", "recall", "threshold"}


@pytest.fixture
def text_pairs(texts: list[str]) -> PairTable:
    """Pairs of the four texts (0 and 1 are paraphrases). No pair appears twice with different labels: a
    symmetric head scores (a, b) and (b, a) the same up to float noise, so such a pair would make the
    metrics depend on the CPU's rounding. The last pair is a text with itself (cosine 1, the top score)."""
    t = texts
    return PairTable(
        a=[t[0], t[2], t[0], t[1], t[3], t[2], t[1], t[2]],
        b=[t[1], t[3], t[2], t[3], t[0], t[1], t[0], t[2]],
        labels=[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        scores=[4.8, 0.2, 1.0, 0.5, 0.3, 0.1, 4.5, 5.0],
    )


@pytest.fixture
def image_model(tower_config: Callable[..., dict[str, Any]]) -> PairModel:
    """A tiny tied CNN with a euclidean head (a distance: lower is more similar)."""
    torch.manual_seed(0)
    tower = tower_config("cnn", arch="face", image_size=[16, 16], width=0.25, out_dim=8, dropout=0.0)
    return PairModel.from_config({"tower": tower, "head": {"name": "euclidean"}})


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((12, 12)).astype(np.float32) for _ in range(n)]


def _copies_per_class(classes: int, copies: int, groups: bool = False) -> LabelledItems:
    """``classes`` distinct random images, each repeated ``copies`` times (separate arrays, same pixels)."""
    base = _images(classes)
    items = [base[c].copy() for c in range(classes) for _ in range(copies)]
    labels = [c for c in range(classes) for _ in range(copies)]
    return LabelledItems(items=items, labels=labels, groups=[f"g{c}" for c in labels] if groups else None)


# -- pair tables ------------------------------------------------------------------------------------------------
def test_pair_table_with_graded_scores(make_model: Callable[..., PairModel], text_pairs: PairTable) -> None:
    model = make_model("lstm", head="cosine")
    metrics, scored = evaluate_split(model, text_pairs, EvalConfig(batch_size=3), split="val", calibrate=True)
    assert scored is not None and scored.items_a == text_pairs.a and scored.items_b == text_pairs.b

    # The metrics are those of the scores evaluate_split computed (kept in ``scored``): computing them again
    # with another batch size may differ in the last float32 bit, which would reorder near-equal scores.
    scores = scored.scores
    labels = torch.tensor(text_pairs.labels)
    threshold = calibrate_threshold(scores, labels, higher_is_similar=True)
    expected = verification_metrics(scores, labels, higher_is_similar=True, threshold=threshold)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert metrics["threshold"] == pytest.approx(threshold, abs=1e-6)
    assert metrics["spearman"] == pytest.approx(spearmanr(scores.numpy(), text_pairs.scores).statistic, abs=1e-6)
    assert -1 <= metrics["pearson"] <= 1
    # and they are the model's scores, to float32 precision, whatever the batch size
    assert torch.allclose(scores, model.score(text_pairs.a, text_pairs.b), atol=1e-6) and torch.equal(
        scored.labels, labels
    )
    assert scored.threshold == metrics["threshold"]


def test_test_split_uses_the_stored_threshold(make_model: Callable[..., PairModel], text_pairs: PairTable) -> None:
    model = make_model("lstm", head="cosine")
    model.config.threshold = 0.95  # deliberately not the calibrated one
    metrics, scored = evaluate_split(model, text_pairs, EvalConfig(), split="test", calibrate=False)
    scores = scored.scores  # the scores the metrics were computed from (not recomputed: no float32 noise)
    assert torch.allclose(scores, model.score(text_pairs.a, text_pairs.b), atol=1e-6)
    assert metrics["threshold"] == 0.95 and scored.threshold == 0.95
    decided = (scores >= 0.95).float()
    assert metrics["accuracy"] == pytest.approx(float((decided == torch.tensor(text_pairs.labels)).float().mean()))


def test_uncalibrated_model_gets_threshold_free_metrics_only(
    make_model: Callable[..., PairModel], text_pairs: PairTable
) -> None:
    model = make_model("lstm", head="cosine")
    assert model.config.threshold is None
    metrics, scored = evaluate_split(model, text_pairs, EvalConfig(), split="test", calibrate=False)
    assert not THRESHOLD_KEYS & set(metrics)
    assert {"roc_auc", "average_precision", "eer", "spearman"} <= set(metrics)
    assert scored.threshold is None


def test_distance_heads_correlate_positively_when_good(
    image_model: PairModel,
) -> None:
    """Spearman of a distance head is computed on the negated distance: a good model is positive."""
    base = _images(6)
    a = [base[i] for i in range(6)]
    b = [base[0].copy(), base[1].copy(), base[2].copy(), base[4], base[5], base[3]]  # 3 identical, 3 different
    table = PairTable(
        a=a, b=b, labels=[1.0, 1.0, 1.0, 0.0, 0.0, 0.0], scores=[5.0, 5.0, 5.0, 0.0, 0.0, 0.0], modality="image"
    )
    metrics, _ = evaluate_split(image_model, table, EvalConfig(), split="val", calibrate=True)
    assert metrics["roc_auc"] == 1.0 and metrics["accuracy"] == 1.0 and metrics["spearman"] > 0.8


# -- class-labelled items -----------------------------------------------------------------------------------------
def test_labelled_items_verification_and_one_shot_episodes(image_model: PairModel) -> None:
    data = _copies_per_class(classes=5, copies=3)
    config = EvalConfig(pairs=40, episodes=6, n_way=3, within_group=False)
    metrics, scored = evaluate_split(image_model, data, config, split="val", calibrate=True)
    assert metrics["n_pairs"] == 40 and metrics["positive_rate"] == 0.5
    assert metrics["roc_auc"] == 1.0 and metrics["accuracy"] == 1.0  # copies within a class: distance 0
    assert metrics["oneshot_accuracy"] == 1.0 and metrics["oneshot_n_episodes"] == 6
    assert "oneshot_per_episode" not in metrics
    assert len(scored.items_a) == 40

    # the same split always gives the same pairs; val and test draw different ones
    again, scored_again = evaluate_split(image_model, data, config, split="val", calibrate=True)
    assert again == metrics and torch.equal(scored_again.scores, scored.scores)
    _, scored_test = evaluate_split(image_model, data, config, split="test", calibrate=True)
    assert not torch.equal(scored_test.scores, scored.scores)


def test_no_episodes_without_asking(image_model: PairModel) -> None:
    metrics, _ = evaluate_split(image_model, _copies_per_class(4, 2), EvalConfig(pairs=10), split="val", calibrate=True)
    assert not [k for k in metrics if k.startswith(("oneshot_", "official_"))]


def test_eval_metrics_pick_the_groups(image_model: PairModel) -> None:
    data = _copies_per_class(classes=4, copies=2)
    only = EvalConfig(metrics=["oneshot"], pairs=10, episodes=3, n_way=4)
    metrics, scored = evaluate_split(image_model, data, only, split="val", calibrate=True)
    assert scored is None and metrics["oneshot_accuracy"] == 1.0 and "roc_auc" not in metrics
    with pytest.raises(ConfigError, match=r"eval\.metrics: 'retrieval' does not apply to LabelledItems data"):
        evaluate_split(image_model, data, EvalConfig(metrics=["retrieval"]), split="val", calibrate=True)
    with pytest.raises(
        ConfigError, match="unknown metric group 'bleu'; valid metric groups: episodes, oneshot, ranking, retrieval"
    ):
        evaluate_split(image_model, data, EvalConfig(metrics=["bleu"]), split="val", calibrate=True)


def test_one_group_per_class_falls_back_to_episodes_across_groups(image_model: PairModel) -> None:
    """Faces have one group per subject: 3-way episodes cannot come from one group, so they span groups."""
    data = _copies_per_class(classes=4, copies=2, groups=True)
    config = EvalConfig(pairs=10, episodes=4, n_way=3, within_group=True)
    metrics, _ = evaluate_split(image_model, data, config, split="test", calibrate=True)
    assert metrics["oneshot_n_episodes"] == 4 and metrics["oneshot_accuracy"] == 1.0


def test_groups_too_small_for_n_way_draw_across_groups_and_say_so(
    image_model: PairModel, caplog: pytest.LogCaptureFixture
) -> None:
    """Omniglot's val split: alphabets of a few held-out characters each, fewer than n_way. Within-group
    episodes cannot be drawn, so validation draws across groups, logs it and records oneshot_within_group = 0,
    instead of failing the run; where a group is big enough the episodes stay within it (= 1)."""
    data = _copies_per_class(classes=6, copies=2)
    data.groups = ["x", "x", "x", "x", "y", "y", "y", "y", "z", "z", "z", "z"]  # 2 classes per group
    config = EvalConfig(pairs=10, episodes=4, n_way=3, within_group=True)
    with caplog.at_level("WARNING", logger="pairsim.data"):
        metrics, _ = evaluate_split(image_model, data, config, split="val", calibrate=True)
    assert metrics["oneshot_within_group"] == 0 and metrics["oneshot_n_episodes"] == 4
    assert "no group has 3 classes" in caplog.text
    data.groups = ["x"] * 6 + ["y"] * 6  # 3 classes per group
    metrics, _ = evaluate_split(image_model, data, config, split="val", calibrate=True)
    assert metrics["oneshot_within_group"] == 1 and metrics["oneshot_accuracy"] == 1.0


def test_official_runs_are_scored_separately(image_model: PairModel) -> None:
    a, b, c = _images(3, seed=5)
    episodes = [
        Episode(support=[a, b], support_labels=[0, 1], query=[a.copy()], targets=[0]),  # right
        Episode(support=[a, b, c], support_labels=[0, 1, 2], query=[c.copy(), b.copy()], targets=[2, 1]),  # right
        Episode(
            support=[a, a.copy(), b, b.copy()], support_labels=[0, 0, 1, 1], query=[b.copy()], targets=[0]
        ),  # 2-shot, wrong answer key
    ]
    data = _copies_per_class(classes=3, copies=2)

    class WithRuns(Source):  # a dataset with its own evaluation, as Omniglot has its official runs
        def extra_evaluations(self, split: str) -> list[ExtraEvaluation]:
            return [ExtraEvaluation("official", FixedEpisodes(episodes), "episodes")]

    source = WithRuns(DatasetConfig(name="with_runs"))
    metrics, _ = evaluate_split(image_model, data, EvalConfig(pairs=10), split="test", calibrate=False, source=source)
    assert metrics["official_n_episodes"] == 3
    assert metrics["official_accuracy"] == pytest.approx(2 / 3)
    assert not THRESHOLD_KEYS & set(metrics)  # no stored threshold, none calibrated on test


def test_items_without_groups_get_episodes_across_classes(image_model: PairModel) -> None:
    """Digits have no groups: within_group (the default) cannot apply and is not an error."""
    data = _copies_per_class(classes=4, copies=2)
    config = EvalConfig(pairs=10, episodes=3, n_way=4)
    assert config.within_group and data.groups is None
    metrics, _ = evaluate_split(image_model, data, config, split="val", calibrate=True)
    assert metrics["oneshot_n_episodes"] == 3 and metrics["oneshot_accuracy"] == 1.0


# -- captions and images ---------------------------------------------------------------------------------------
def test_caption_images_give_recall_both_ways(make_model: Callable[..., PairModel], texts: list[str]) -> None:
    model = make_model("lstm", tower_b="cnn")  # a text tower and an image tower, both 8-d
    data = CaptionImages(
        images=_images(3), image_ids=["i0", "i1", "i2"], captions=[*texts, "one more"], caption_image=[0, 0, 1, 2, 2]
    )
    metrics, scored = evaluate_split(model, data, EvalConfig(), split="test", calibrate=False)
    assert scored is None
    for direction in ("t2i", "i2t"):
        for k in (1, 5, 10):
            assert 0.0 <= metrics[f"{direction}_recall@{k}"] <= 1.0
        assert metrics[f"{direction}_recall@5"] == 1.0  # only 3 images / 5 captions to rank
        assert metrics[f"{direction}_median_rank"] >= 1.0
    assert (metrics["n_captions"], metrics["n_images"]) == (5, 3)


@pytest.mark.parametrize("image_side", ["a", "b"])
def test_retrieval_encodes_each_side_with_its_own_tower(
    make_model: Callable[..., PairModel], texts: list[str], image_side: str
) -> None:
    """Images on side a need the image tower on side a: captions go through tower b, images through tower a."""
    model = make_model("cnn", tower_b="lstm") if image_side == "a" else make_model("lstm", tower_b="cnn")
    data = CaptionImages(
        images=_images(3), image_ids=["i0", "i1", "i2"], captions=[*texts, "one more"], caption_image=[0, 0, 1, 2, 2],
        image_side=image_side,
    )  # fmt: skip
    metrics, _ = evaluate_split(model, data, EvalConfig(), split="test", calibrate=False)
    text_side, image_side_encode = (
        (model.encode_b, model.encode_a) if image_side == "a" else (model.encode_a, model.encode_b)
    )
    sim = model.head.matrix(text_side(data.captions), image_side_encode(data.images))  # (C, I)
    from pairsim.metrics import query_corpus_metrics, retrieval_metrics

    expected = retrieval_metrics(sim.detach().numpy(), data.caption_image, higher_is_similar=True)
    assert {k: metrics[k] for k in expected} == expected
    t2i = query_corpus_metrics(sim.detach().numpy(), [[i] for i in data.caption_image], higher_is_similar=True)
    assert metrics["t2i_mrr@10"] == t2i["mrr@10"] and metrics["t2i_map@r"] == t2i["map@r"]  # and MRR / MAP@R


def test_perfect_retrieval(image_model: PairModel) -> None:
    """'Captions' that are copies of their image: every caption finds its image first, and back.

    Image 1 has two captions that are copies of it: both are at distance ~0 (float noise decides which is
    nearer), and neither counts against the other, so the result does not depend on the CPU's rounding."""
    images = _images(4, seed=3)
    data = CaptionImages(
        images=images,
        image_ids=list("abcd"),
        captions=[images[i].copy() for i in (0, 1, 1, 2, 3)],
        caption_image=[0, 1, 1, 2, 3],
    )
    metrics, _ = evaluate_split(image_model, data, EvalConfig(), split="test", calibrate=False)
    assert metrics["t2i_recall@1"] == metrics["i2t_recall@1"] == 1.0
    assert metrics["t2i_median_rank"] == metrics["i2t_median_rank"] == 1.0


def test_other_data_is_a_config_error(image_model: PairModel) -> None:
    with pytest.raises(ConfigError, match="cannot evaluate data of type list"):
        evaluate_split(image_model, [1, 2, 3], EvalConfig(), split="test", calibrate=False)  # type: ignore[arg-type]


# -- plots ---------------------------------------------------------------------------------------------------------
def test_eval_plots(make_model: Callable[..., PairModel], text_pairs: PairTable, tmp_path: Path) -> None:
    model = make_model("lstm", head="cosine")
    assert save_eval_plots(model, None, tmp_path, prefix="test") == []  # retrieval: nothing to plot
    _, scored = evaluate_split(model, text_pairs, EvalConfig(), split="val", calibrate=True)
    paths = save_eval_plots(model, scored, tmp_path, prefix="val")
    assert [Path(p).name for p in paths] == ["val_roc.png", "val_score_histograms.png", "val_hardest_pairs.png"]
    assert all(Path(p).read_bytes().startswith(b"\x89PNG") for p in paths)


def test_graded_text_evaluation_writes_a_scatter_and_readable_hardest_pairs(
    make_model: Callable[..., PairModel], text_pairs: PairTable, tmp_path: Path
) -> None:
    model = make_model("lstm", head="cosine")
    _, scored = evaluate_split(model, text_pairs, EvalConfig(batch_size=3), split="val", calibrate=True)
    assert scored is not None and scored.gold == text_pairs.scores
    paths = [
        *save_eval_plots(model, scored, tmp_path, prefix="val"),
        *save_graded_plot(model, scored, tmp_path, prefix="val"),
    ]
    assert [p.name for p in paths][-1] == "val_graded_scatter.png"
    assert all(p.stat().st_size > 1000 for p in paths)
    scored.gold = None  # binary data: no scatter
    assert save_graded_plot(model, scored, tmp_path, prefix="b") == []


# -- the metric that picks the best model -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "keys, expected",
    [
        (["accuracy", "roc_auc", "spearman", "pearson"], "spearman"),  # graded data (STS-B)
        (["accuracy", "roc_auc", "oneshot_accuracy"], "oneshot_accuracy"),  # class-labelled data
        (["roc_auc", "oneshot_accuracy", "official_accuracy"], "official_accuracy"),  # Omniglot official runs
        (["t2i_recall@1", "i2t_recall@1", "t2i_median_rank"], "t2i_recall@1"),  # captions
        (["accuracy", "f1", "roc_auc", "eer"], "roc_auc"),  # plain verification
        (["n_pairs", "custom"], "n_pairs"),  # none of the preferred: the first one
    ],
)
def test_primary_metric_auto(keys: list[str], expected: str) -> None:
    assert primary_metric({k: 0.5 for k in keys}) == expected
    assert primary_metric({k: 0.5 for k in keys}, "auto") == expected


def test_primary_metric_by_name() -> None:
    metrics = {"accuracy": 0.9, "roc_auc": 0.8, "f1": 0.7}
    assert primary_metric(metrics, "f1") == "f1"
    with pytest.raises(ConfigError) as info:
        primary_metric(metrics, "spearman")
    assert (
        str(info.value) == "train.validation.metric: 'spearman' is not computed here; available: accuracy, f1, roc_auc"
    )


@pytest.mark.parametrize(
    "name, value, best, expected",
    [
        ("roc_auc", 0.8, None, True),  # the first value is always the best so far
        ("roc_auc", 0.9, 0.8, True),
        ("roc_auc", 0.8, 0.8, False),  # a tie keeps the earlier model
        ("spearman", 0.1, 0.2, False),
        ("eer", 0.1, 0.2, True),  # error rates and ranks improve downwards
        ("eer", 0.3, 0.2, False),
        ("t2i_median_rank", 2.0, 3.0, True),
        ("i2t_median_rank", 4.0, 3.0, False),
        ("t2i_recall@1", 0.5, 0.4, True),
    ],
)
def test_improved_knows_each_metric_direction(name: str, value: float, best: float | None, expected: bool) -> None:
    assert improved(name, value, best) is expected


def test_evaluation_shows_progress_over_distinct_items(
    make_model: Callable[..., PairModel], text_pairs: PairTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pairsim.evaluate as evaluate_module

    bars: list[dict[str, Any]] = []

    class Bar:
        def __init__(self, **kwargs: Any) -> None:
            self.info = {**kwargs, "done": 0}
            bars.append(self.info)

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int) -> None:
            self.info["done"] += n

    monkeypatch.setattr(evaluate_module, "tqdm", Bar)
    model = make_model("lstm", head="cosine")
    _, scored = evaluate_split(model, text_pairs, EvalConfig(batch_size=2), split="val", calibrate=True)
    distinct = len(set(text_pairs.a)) + len(set(text_pairs.b))
    assert [(b["unit"], b["total"], b["done"]) for b in bars] == [("item", distinct, distinct)]
    assert scored is not None and torch.equal(scored.scores, model.score(text_pairs.a, text_pairs.b, batch_size=2))


def test_ranking_group_correlates_the_towers_score_with_the_negated_level(
    tower_config: Callable[..., dict[str, Any]],
) -> None:
    torch.manual_seed(0)
    tower = tower_config("cnn", arch="face", image_size=[16, 16], width=0.25, out_dim=1, dropout=0.0)
    model = PairModel.from_config({"tower": tower, "head": {"name": "cosine"}})
    images = _images(6)
    data = LabelledItems(items=images, labels=[0, 1, 2, 0, 1, 2], groups=["x"] * 3 + ["y"] * 3)
    metrics, scored = evaluate_split(model, data, EvalConfig(metrics=["ranking"]), split="test", calibrate=False)
    scores = model.encode_a(images)[:, 0].numpy()  # (6,) one score per image
    expected = spearmanr(scores, [0, -1, -2, 0, -1, -2]).statistic
    assert scored is None and metrics["rank_spearman"] == pytest.approx(expected)
    assert metrics["rank_groups"] == 2 and primary_metric(metrics) == "rank_spearman"
    wide = PairModel.from_config({"tower": {**tower, "out_dim": 4}, "head": {"name": "cosine"}})
    with pytest.raises(ConfigError, match="'ranking' needs a tower with out_dim 1"):
        evaluate_split(wide, data, EvalConfig(metrics=["ranking"]), split="test", calibrate=False)
