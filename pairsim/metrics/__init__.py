"""Evaluation metrics and plots for pair similarity.

Convention: label 1 = similar. Every function that takes scores also takes ``higher_is_similar`` (True
for similarity heads such as cosine, False for distance heads such as euclidean) and gives the same
metrics for a distance as for the negated similarity. Rates and correlations are fractions / raw
coefficients, never percentages.

* :mod:`~pairsim.metrics.verification`: thresholds, decisions, accuracy / F1 / ROC AUC / AP / EER;
* :mod:`~pairsim.metrics.oneshot`: N-way one-shot episode accuracy with a 95% confidence interval;
* :mod:`~pairsim.metrics.retrieval`: caption-image Recall@K and median rank, both directions; query-corpus
  Recall@K, MRR@10, nDCG@10 and MAP@R;
* :mod:`~pairsim.metrics.graded`: Spearman and Pearson correlation with graded gold similarity;
* :mod:`~pairsim.metrics.ranking`: Spearman of one score per item with rank labels (quality ranking, RankIQA);
* :mod:`~pairsim.metrics.table`: a printable table, and atomic JSON output;
* :mod:`~pairsim.metrics.plots`: training curves, ROC, score histograms and hardest pairs as PNGs.

Example:
    >>> m = verification_metrics([0.9, 0.7, 0.2], [1, 0, 0], higher_is_similar=True, threshold=0.8)
    >>> m["accuracy"], m["roc_auc"]
    (1.0, 1.0)
"""

from pairsim.metrics.curves import plot_curves
from pairsim.metrics.graded import graded_metrics
from pairsim.metrics.oneshot import episode_accuracies, episode_accuracy, oneshot_metrics
from pairsim.metrics.plots import hardest_pair_indices, plot_hardest_pairs, plot_roc, plot_score_histograms
from pairsim.metrics.plots_text import plot_graded_scatter, plot_hardest_text_pairs
from pairsim.metrics.ranking import ranking_metrics
from pairsim.metrics.retrieval import query_corpus_metrics, retrieval_metrics
from pairsim.metrics.table import format_table, write_json
from pairsim.metrics.verification import calibrate_threshold, decide, equal_error_rate, verification_metrics

__all__ = [
    "calibrate_threshold",
    "decide",
    "episode_accuracies",
    "episode_accuracy",
    "equal_error_rate",
    "format_table",
    "graded_metrics",
    "hardest_pair_indices",
    "oneshot_metrics",
    "plot_curves",
    "plot_graded_scatter",
    "plot_hardest_pairs",
    "plot_hardest_text_pairs",
    "plot_roc",
    "plot_score_histograms",
    "query_corpus_metrics",
    "ranking_metrics",
    "retrieval_metrics",
    "verification_metrics",
    "write_json",
]
