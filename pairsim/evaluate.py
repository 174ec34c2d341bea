"""Evaluating a pair model on a split, with the metric groups ``eval.metrics`` names (default: per data type).

* ``verification``: pair tables (MRPC, STS-B, Quora, ...) and class-labelled items (balanced pairs drawn with
  a fixed seed): accuracy, F1, ROC-AUC, average precision, EER at the model's threshold and, for graded data,
  Spearman / Pearson;
* ``oneshot``: class-labelled items (Omniglot, faces, digits): N-way one-shot accuracy on random episodes;
* ``retrieval``: caption-image data (Flickr8k), images on either side: Recall@1/5/10 both ways, median rank,
  MRR@10, nDCG@10 and MAP@R both ways; a pair table read as queries (side a) against a corpus (side b and its
  explicit negatives), relevant = the similar pairs: Recall@1/5/10, MRR@10, nDCG@10, MAP@R;
* ``ranking``: items labelled by rank within groups (RankIQA's distortion levels per image): Spearman of a
  ranker's score (tower output, ``out_dim: 1``) with the negated rank, pooled and per group;
* ``episodes``: a fixed list of episodes (Omniglot's 20 official runs): one-shot accuracy on exactly those;
* the data a dataset hands over for its own evaluation (its source's ``extra_evaluations``: Omniglot's
  official runs, RankIQA's held-out distortion), evaluated by the metric group it names.

Each group declares which of its metrics improve downwards (:func:`lower_is_better`).

The threshold is calibrated on the validation split only (``calibrate=True``); test metrics use the
threshold stored in the model.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from pairsim.data.episodes import Episode, EpisodePools, EpisodeSampler, FixedEpisodes
from pairsim.data.samplers import fixed_pairs
from pairsim.data.split import Stream
from pairsim.data.types import CaptionImages, LabelledItems, PairTable
from pairsim.errors import ConfigError, DataError
from pairsim.metrics import (
    calibrate_threshold,
    graded_metrics,
    oneshot_metrics,
    plot_graded_scatter,
    plot_hardest_pairs,
    plot_hardest_text_pairs,
    plot_roc,
    plot_score_histograms,
    query_corpus_metrics,
    ranking_metrics,
    retrieval_metrics,
    verification_metrics,
)
from pairsim.model import PairModel
from pairsim.registry import Registry


@dataclasses.dataclass
class Scored:
    """Scored pairs kept for plots: the inputs, their scores and labels (1 = similar)."""

    items_a: list[Any]
    items_b: list[Any]
    scores: torch.Tensor
    labels: torch.Tensor
    threshold: float | None
    gold: list[float] | None = None  # graded gold scores (STS-B 0-5, a table's score column) where the data has them


log = logging.getLogger("pairsim.data")  # split-level notes go where the filters' lines go


def _verification(
    model: PairModel, pairs: PairTable, calibrate: bool, batch_size: int
) -> tuple[dict[str, Any], Scored]:
    scores = score_with_progress(model, pairs.a, pairs.b, batch_size=batch_size)  # (N,)
    labels = torch.tensor(pairs.labels, dtype=torch.float32)  # (N,)
    hi = model.head.higher_is_similar
    threshold = model.config.threshold
    if calibrate:  # within the head's score range: a threshold beyond every score (all pairs alike) becomes its bound
        threshold = model.head.clamp_threshold(calibrate_threshold(scores, labels, higher_is_similar=hi))
    if threshold is None:  # an uncalibrated model: report the threshold-free metrics only
        threshold = calibrate_threshold(scores, labels, higher_is_similar=hi)
        metrics = verification_metrics(scores, labels, higher_is_similar=hi, threshold=threshold)
        metrics = {k: v for k, v in metrics.items() if k not in ("accuracy", "f1", "precision", "recall", "threshold")}
        threshold = None
    else:
        metrics = verification_metrics(scores, labels, higher_is_similar=hi, threshold=threshold)
    if pairs.scores is not None:
        metrics.update(graded_metrics(scores, pairs.scores, higher_is_similar=hi))
    return metrics, Scored(list(pairs.a), list(pairs.b), scores, labels, threshold, pairs.scores)


@torch.inference_mode()
def score_with_progress(
    model: PairModel, items_a: Sequence[Any], items_b: Sequence[Any], *, batch_size: int, what: str = "scoring"
) -> torch.Tensor:
    """``model.score`` with a progress bar over the distinct items encoded (on a terminal only).

    Returns:
        ``(N,)`` scores, equal to ``model.score(items_a, items_b, batch_size=batch_size)``.
    """
    sides = ((model.tower_a, items_a), (model.side_b, items_b))
    total = sum(len({tower.item_key(x) for x in items}) for tower, items in sides)
    with tqdm(total=total, desc=what, unit="item", disable=None, leave=False, dynamic_ncols=True) as bar:
        a = model.encode_a(items_a, batch_size=batch_size, progress=bar.update)  # (N, D)
        b = model.encode_b(items_b, batch_size=batch_size, progress=bar.update)  # (N, D)
    return model.head(a.to(model.device), b.to(model.device)).float().cpu()  # (N,)


def episode_scores(model: PairModel, episodes: list[Episode], batch_size: int) -> dict[str, Any]:
    """One-shot accuracy: each query against its episode's support, best-scoring support wins.

    All episodes' inputs are encoded in one pass (an input shared by episodes is encoded once).
    """
    queries = model.encode_a([q for ep in episodes for q in ep.query], batch_size=batch_size)  # (sum Q, D)
    supports = model.encode_b([s for ep in episodes for s in ep.support], batch_size=batch_size)  # (sum S, D)
    matrices, answers, q0, s0 = [], [], 0, 0
    for ep in episodes:
        q, s = queries[q0 : q0 + len(ep.query)], supports[s0 : s0 + len(ep.support)]  # (Q, D), (S, D)
        q0, s0 = q0 + len(ep.query), s0 + len(ep.support)
        with torch.inference_mode():
            sim = model.head.matrix(q.to(model.device), s.to(model.device)).float().cpu()  # (Q, S)
        if ep.k_shot > 1:  # average each way's k support scores
            sim = sim.reshape(len(ep.query), ep.n_way, ep.k_shot).mean(-1)  # (Q, n_way)
        matrices.append(sim.numpy())
        answers.append(ep.targets)
    metrics = oneshot_metrics(matrices, answers, higher_is_similar=model.head.higher_is_similar)
    metrics.pop("per_episode", None)
    return metrics


def _retrieval(model: PairModel, data: CaptionImages, batch_size: int) -> dict[str, Any]:
    """Recall@K both ways: captions and images each encoded once, with the tower of the side that holds them."""
    image_a = data.image_side == "a"
    encode_text, encode_image = (model.encode_b, model.encode_a) if image_a else (model.encode_a, model.encode_b)
    text = encode_text(data.captions, batch_size=batch_size)  # (C, D)
    image = encode_image(data.images, batch_size=batch_size)  # (I, D)
    with torch.inference_mode():
        sim = model.head.matrix(text.to(model.device), image.to(model.device)).float().cpu()  # (C, I)
    up = model.head.higher_is_similar
    metrics = retrieval_metrics(sim.numpy(), data.caption_image, higher_is_similar=up)
    t2i = query_corpus_metrics(sim.numpy(), [[i] for i in data.caption_image], higher_is_similar=up)
    i2t = query_corpus_metrics(sim.numpy().T, data.image_captions(), higher_is_similar=up)
    for direction, values in (("t2i", t2i), ("i2t", i2t)):
        metrics.update({f"{direction}_{k}": values[k] for k in ("mrr@10", "ndcg@10", "map@r")})
    return metrics


def query_corpus(table: PairTable) -> tuple[list[Any], list[Any], list[list[int]]]:
    """A pair table as retrieval data: distinct side-a items are the queries, distinct side-b items (and every
    row's explicit negatives) the corpus, and a query's relevant items the b sides of its similar (label 1) rows.

    Example:
        >>> t = PairTable(a=["q", "q", "r"], b=["x", "y", "x"], labels=[1.0, 0.0, 0.0], negatives=None)
        >>> query_corpus(t)
        (['q', 'r'], ['x', 'y'], [[0], []])
    """
    ka, kb = table.keys("a"), table.keys("b")
    queries: dict[Any, int] = {}
    corpus: dict[Any, int] = {}
    query_items, corpus_items = [], []
    for item, key in zip(table.a, ka, strict=True):
        if key not in queries:
            queries[key] = len(queries)
            query_items.append(item)
    for item, key in [*zip(table.b, kb, strict=True), *((n, n) for row in table.negatives or [] for n in row)]:
        if key not in corpus:
            corpus[key] = len(corpus)
            corpus_items.append(item)
    relevant: list[set[int]] = [set() for _ in query_items]
    for key_a, key_b, label in zip(ka, kb, table.labels, strict=True):
        if label >= 0.5:
            relevant[queries[key_a]].add(corpus[key_b])
    return query_items, corpus_items, [sorted(r) for r in relevant]


def _query_corpus_retrieval(model: PairModel, data: PairTable, batch_size: int) -> dict[str, Any]:
    """Recall@1/5/10, MRR@10, nDCG@10 and MAP@R of side a's items ranking side b's (see :func:`query_corpus`)."""
    queries, corpus, relevant = query_corpus(data)
    q = model.encode_a(queries, batch_size=batch_size)  # (Q, D)
    c = model.encode_b(corpus, batch_size=batch_size)  # (N, D)
    with torch.inference_mode():
        sim = model.head.matrix(q.to(model.device), c.to(model.device)).float().cpu()  # (Q, N)
    return query_corpus_metrics(sim.numpy(), relevant, higher_is_similar=model.head.higher_is_similar)


@torch.inference_mode()
def rank_scores(model: PairModel, items: Sequence[Any], batch_size: int) -> torch.Tensor:
    """A ranker's score of each item: its tower_a output (``out_dim: 1``), higher = ranks higher.

    Args:
        model: A model whose tower gives one number per input (trained with the ``ranking`` loss).
        items: The inputs.
        batch_size: Inputs per encoding batch.

    Returns:
        ``(N,)`` float scores.

    Raises:
        ConfigError: The tower gives more than one number per input.
    """
    out = model.encode_a(list(items), batch_size=batch_size).float().cpu()  # (N, D)
    if out.ndim != 2 or out.shape[1] != 1:
        raise ConfigError(
            f"eval.metrics: 'ranking' needs a tower with out_dim 1 (one score per input), got {out.shape[-1]}"
        )
    return out[:, 0]  # (N,)


def _ranking(model: PairModel, data: LabelledItems, config: Any, split: str, calibrate: bool) -> tuple[dict, None]:
    """Spearman of each item's score with its negated label (a rank: 0 = best), pooled and per group."""
    return ranking_metrics(rank_scores(model, data.items, config.batch_size), data.labels, data.groups), None


Run = Callable[[PairModel, Any, Any, str, bool], tuple[dict[str, Any], "Scored | None"]]


@dataclasses.dataclass
class Evaluation:
    """One named group of metrics: what data it applies to, how to compute it, and which of its metrics improve
    downwards (a metric knows its own direction).

    Args:
        run: ``run(model, data, config, split, calibrate) -> (metrics, scored pairs or None)``.
        data: The data types it applies to.
        lower_is_better: Its metrics where lower is better (error rates, ranks).
    """

    run: Run
    data: tuple[type, ...]
    lower_is_better: frozenset[str] = frozenset()
    # check(data, config, split): raise a one-line error now if ``run`` would fail on this data (before any fitting
    # or training); None: nothing to check beyond the data type
    check: Callable[[Any, Any, str], None] | None = None


EVALUATIONS: Registry[Evaluation] = Registry("metric group")
# the groups computed when ``eval.metrics`` is empty, per data type
DEFAULT_METRICS: dict[type, tuple[str, ...]] = {
    PairTable: ("verification",),
    LabelledItems: ("verification", "oneshot"),
    CaptionImages: ("retrieval",),
}


def _split_stream(split: str) -> int:
    return {"val": Stream.EVAL_VAL, "test": Stream.EVAL_TEST}.get(split, Stream.EVAL_OTHER)


def _verify(model: PairModel, data: Any, config: Any, split: str, calibrate: bool) -> tuple[dict[str, Any], Scored]:
    """Verification (and graded correlation where the table has scores); labelled items: balanced fixed pairs."""
    if isinstance(data, LabelledItems):
        data = fixed_pairs(data, num_pairs=config.pairs, seed=_split_stream(split), where=f"{split} pairs")
    return _verification(model, data, calibrate, config.batch_size)


def _within_group(data: LabelledItems, config: Any, split: str, *, warn: bool) -> bool:
    """Whether the split's episodes are drawn within a group: ``eval.within_group`` where some group holds
    ``n_way`` classes with two items, else across groups (with a warning line when ``warn``)."""
    # within-group episodes need groups coarser than classes (alphabets of characters, not one subject each)
    within = config.within_group and data.groups is not None and len(set(data.groups)) < len(set(data.labels))
    if within and not _group_fits(data, config.n_way):
        # e.g. Omniglot's val split holds ~15% of each background alphabet's characters: no alphabet has 20. Say
        # so, draw across groups, and record it in the metrics instead of failing the run at its first validation.
        if warn:
            log.warning(
                "%s: no group has %d classes with 2 items, so its %d-way one-shot episodes are drawn across groups "
                "(metric oneshot_within_group = 0)", split, config.n_way, config.n_way,
            )  # fmt: skip
        within = False
    return within


def _check_oneshot(data: LabelledItems, config: Any, split: str) -> None:
    """``eval.episodes`` N-way episodes must be drawable from the split: one line naming the settings otherwise."""
    if not config.episodes:
        return
    try:
        EpisodePools(data, config.n_way, 1, 1, _within_group(data, config, split, warn=False))
    except DataError as err:
        raise DataError(
            f"eval.n_way: {config.n_way}-way one-shot episodes (eval.episodes: {config.episodes}) cannot be drawn from "
            f"the {split} split ({len(data.classes())} classes): {err}; lower eval.n_way or set eval.episodes: 0"
        ) from None


def _check_pairs(data: Any, config: Any, split: str) -> None:
    """Verification pairs drawn from class-labelled items need two classes of two items."""
    if isinstance(data, LabelledItems):
        data.check_pairable(f"eval: verification pairs of the {split} split")


def _oneshot(model: PairModel, data: LabelledItems, config: Any, split: str, calibrate: bool) -> tuple[dict, None]:
    """N-way one-shot accuracy on ``config.episodes`` random episodes (none when 0)."""
    if not config.episodes:
        return {}, None
    within = _within_group(data, config, split, warn=True)
    sampler = EpisodeSampler(
        data, n_way=config.n_way, within_group=within, num_episodes=config.episodes, seed=_split_stream(split)
    )
    metrics = {f"oneshot_{k}": v for k, v in episode_scores(model, sampler.episodes(), config.batch_size).items()}
    if config.within_group:
        metrics["oneshot_within_group"] = int(within)
    return metrics, None


def _group_fits(data: LabelledItems, n_way: int) -> bool:
    """Whether some group holds ``n_way`` classes of at least two items (one support, one query)."""
    assert data.groups is not None
    counts: dict[Any, int] = {}
    for ix in data.by_class().values():
        if len(ix) >= 2:
            counts[data.groups[ix[0]]] = counts.get(data.groups[ix[0]], 0) + 1
    return any(n >= n_way for n in counts.values())


EVALUATIONS.register("verification")(
    Evaluation(_verify, (PairTable, LabelledItems), frozenset({"eer"}), check=_check_pairs)  # type: ignore[arg-type]
)
EVALUATIONS.register("oneshot")(Evaluation(_oneshot, (LabelledItems,), check=_check_oneshot))  # type: ignore[arg-type]
EVALUATIONS.register("ranking")(Evaluation(_ranking, (LabelledItems,)))  # type: ignore[arg-type]
EVALUATIONS.register("episodes")(
    Evaluation(
        lambda model, data, config, split, calibrate: (episode_scores(model, data.episodes, config.batch_size), None),
        (FixedEpisodes,),
    )
)
EVALUATIONS.register("retrieval")(
    Evaluation(
        lambda model, data, config, split, calibrate: (
            (_retrieval if isinstance(data, CaptionImages) else _query_corpus_retrieval)(
                model, data, config.batch_size
            ),
            None,
        ),
        (CaptionImages, PairTable),
        frozenset({"t2i_median_rank", "i2t_median_rank"}),
    )
)


def _groups(data: Any, config: Any) -> tuple[type, list[str]]:
    """The data's kind and the metric groups to compute on it (``eval.metrics``, or the kind's defaults)."""
    kind = next((t for t in DEFAULT_METRICS if isinstance(data, t)), None)
    if kind is None:
        raise ConfigError(f"cannot evaluate data of type {type(data).__name__}")
    return kind, list(getattr(config, "metrics", None) or DEFAULT_METRICS[kind])


def check_evaluation(data: Any, config: Any, *, split: str) -> None:
    """Raise the one-line error :func:`evaluate_split` would raise on this split's settings, now: before any fitting,
    training or encoding (an unknown or unfitting metric group, episodes the split cannot give, pairs it cannot
    draw).

    Args:
        data: The split.
        config: The recipe's :class:`~pairsim.recipe.EvalConfig`.
        split: Its name ("val", "test"), named in messages.

    Raises:
        ConfigError: An unknown data type or metric group, or one that does not apply to the data.
        DataError: The split cannot give what a group draws from it (``eval.n_way`` episodes, verification pairs).
    """
    kind, names = _groups(data, config)
    for name in names:
        group = EVALUATIONS.get(name)
        if not isinstance(data, group.data):
            raise ConfigError(f"eval.metrics: {name!r} does not apply to {kind.__name__} data")
        if group.check is not None:
            group.check(data, config, split)


def evaluate_split(
    model: PairModel, data: PairTable | LabelledItems | CaptionImages, config: Any, *, split: str, calibrate: bool,
    source: Any = None,
) -> tuple[dict[str, Any], Scored | None]:  # fmt: skip
    """Metrics of ``model`` on one split.

    Args:
        model: The model to evaluate.
        data: The split.
        config: The recipe's :class:`~pairsim.recipe.EvalConfig`; ``metrics`` names the groups to compute
            (empty: :data:`DEFAULT_METRICS` for the data type).
        split: Its name ("val", "test"), seeding the pairs and episodes drawn from class-labelled data.
        calibrate: Choose the decision threshold on this split (validation only) and report it.
        source: The dataset's :class:`~pairsim.data.sources.Source`, whose ``extra_evaluations`` may hand over
            more data to evaluate (Omniglot: the 20 official one-shot runs on the test split).

    Returns:
        ``(metrics, scored pairs for plots or None)``.

    Raises:
        ConfigError: Unknown data type, an unknown metric group, or one that does not fit the data.
    """
    model.eval()
    kind, names = _groups(data, config)
    metrics: dict[str, Any] = {}
    scored: Scored | None = None
    for name in names:
        group = EVALUATIONS.get(name)
        if not isinstance(data, group.data):
            raise ConfigError(f"eval.metrics: {name!r} does not apply to {kind.__name__} data")
        values, pairs = group.run(model, data, config, split, calibrate)
        metrics.update(values)
        scored = scored or pairs
    for extra in source.extra_evaluations(split) if source is not None else []:
        group = EVALUATIONS.get(extra.metrics)
        if not isinstance(extra.data, group.data):
            raise ConfigError(f"{extra.prefix}: {extra.metrics!r} does not apply to {type(extra.data).__name__} data")
        values, _ = group.run(model, extra.data, config, split, False)  # never calibrated on extra data
        metrics.update({f"{extra.prefix}_{k}": v for k, v in values.items()})
    return metrics, scored


_PREFERRED = ("spearman", "rank_spearman", "official_accuracy", "oneshot_accuracy", "t2i_recall@1", "roc_auc")
HEADLINE = (*_PREFERRED, "i2t_recall@1", "accuracy", "f1", "eer")  # metrics worth a curve


def lower_is_better(name: str) -> bool:
    """Whether metric ``name`` improves downwards, as its group declares (prefixes such as ``official_`` ignored)."""
    bare = name.removeprefix("official_").removeprefix("oneshot_")
    return any(bare in EVALUATIONS.get(g).lower_is_better for g in EVALUATIONS.names())


def improved(name: str, value: float, best: float | None) -> bool:
    """Whether ``value`` of metric ``name`` beats ``best`` (None: nothing yet); error rates and ranks go down."""
    if best is None:
        return True
    return value < best if lower_is_better(name) else value > best


def primary_metric(metrics: dict[str, Any], name: str = "auto") -> str:
    """The metric that picks the best model: ``name``, or for ``auto`` the first of spearman, rank spearman, one-shot
    accuracy, text-to-image Recall@1 and ROC-AUC that the metrics hold (higher is better for all)."""
    if name != "auto":
        if name not in metrics:
            raise ConfigError(
                f"train.validation.metric: {name!r} is not computed here; available: {', '.join(sorted(metrics))}"
            )
        return name
    return next(m for m in (*_PREFERRED, *metrics) if m in metrics)


def save_eval_plots(model: PairModel, scored: Scored | None, directory: Path, *, prefix: str) -> list[Path]:
    """ROC curve, score histograms by label and the hardest pairs, as PNGs in ``directory``; text pairs show both
    kinds of error as readable text with the gold score (graded data: see :func:`save_graded_plot`)."""
    if scored is None:
        return []
    hi = model.head.higher_is_similar
    if model.tower_a.modality == "text" and model.side_b.modality == "text":
        return [
            plot_roc(scored.scores, scored.labels, higher_is_similar=hi, path=directory / f"{prefix}_roc.png"),
            plot_score_histograms(scored.scores, scored.labels, higher_is_similar=hi, threshold=scored.threshold,
                                  path=directory / f"{prefix}_score_histograms.png"),
            plot_hardest_text_pairs(scored.items_a, scored.items_b, scored.scores, scored.labels, higher_is_similar=hi,
                                    threshold=scored.threshold, gold=scored.gold,
                                    path=directory / f"{prefix}_hardest_pairs.png"),
        ]  # fmt: skip
    return [
        plot_roc(scored.scores, scored.labels, higher_is_similar=hi, path=directory / f"{prefix}_roc.png"),
        plot_score_histograms(scored.scores, scored.labels, higher_is_similar=hi, threshold=scored.threshold,
                              path=directory / f"{prefix}_score_histograms.png"),
        plot_hardest_pairs(scored.items_a, scored.items_b, scored.scores, scored.labels, higher_is_similar=hi,
                           threshold=scored.threshold, kind="auto", path=directory / f"{prefix}_hardest_pairs.png"),
    ]  # fmt: skip


def save_graded_plot(model: PairModel, scored: Scored | None, directory: Path, *, prefix: str) -> list[Path]:
    """Graded data (a gold score per pair): the predicted-vs-gold scatter with Spearman in the title; else nothing."""
    if scored is None or scored.gold is None:
        return []
    path = directory / f"{prefix}_graded_scatter.png"
    return [plot_graded_scatter(scored.scores, scored.gold, higher_is_similar=model.head.higher_is_similar, path=path)]
