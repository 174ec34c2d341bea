"""No-training baselines of ``quality.py``: scores a recipe must beat without learning anything."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from pairsim.metrics.verification import calibrate_threshold, verification_metrics


def tfidf_cosine(splits: Any) -> dict[str, Any]:
    """TF-IDF (scikit-learn, fitted on the training headlines and bodies, sublinear tf, English stop words
    removed) cosine of the two texts of each pair; threshold calibrated on the validation split.

    Args:
        splits: ``train`` / ``val`` / ``test`` text pair tables (``a``, ``b``, ``labels``).

    Returns:
        ``{"test": metrics at the val threshold, "steps": 0, "best_epoch": None}``.
    """
    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2)
    vec.fit(sorted(set(splits.train.a) | set(splits.train.b)))

    def cosine(table: Any) -> np.ndarray:
        texts = sorted(set(table.a) | set(table.b))
        rows = dict(zip(texts, range(len(texts)), strict=True))
        m = vec.transform(texts)  # (N, V), rows L2-normalised
        a, b = m[[rows[t] for t in table.a]], m[[rows[t] for t in table.b]]
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()  # (P,)

    threshold = calibrate_threshold(cosine(splits.val), splits.val.labels, higher_is_similar=True)
    test = verification_metrics(cosine(splits.test), splits.test.labels, higher_is_similar=True, threshold=threshold)
    return {"test": {**test, "n_pairs": len(splits.test.labels)}, "steps": 0, "best_epoch": None}
