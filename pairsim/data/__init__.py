"""pairsim's data layer: datasets, splits, samplers and the batches a loss consumes.

* :mod:`pairsim.data.types`: :class:`LabelledItems`, :class:`PairTable`, :class:`CaptionImages`, :class:`Splits`.
* :mod:`pairsim.data.sources`: the :data:`DATASETS` registry and :func:`load_dataset`.
* :mod:`pairsim.data.samplers`: the :data:`SAMPLERS` registry (pairs, ranked_pairs, triplets, pk, aligned,
  hard_negatives, episodes).
* :mod:`pairsim.data.pipeline`: :class:`Batches`, the one dataset/collator from a split to a loss's rows.
* :mod:`pairsim.data.episodes`, :mod:`pairsim.data.retrieval`: evaluation episodes and retrieval sets.

**Label 1 = similar** everywhere.
"""

from pairsim.data import hard_negatives, margins, ranked_pairs  # noqa: F401  (register those samplers)
from pairsim.data.episodes import Episode, EpisodeSampler
from pairsim.data.pipeline import Batches, side_inputs
from pairsim.data.retrieval import RetrievalSet, retrieval_set
from pairsim.data.samplers import SAMPLERS, Consumes, Draw, Rows, SamplerConfig, fixed_pairs
from pairsim.data.sources import DATASETS, DatasetConfig, Source, build_source, load_dataset, one_shot_runs
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits

__all__ = [
    "DATASETS",
    "SAMPLERS",
    "Batches",
    "CaptionImages",
    "Consumes",
    "DatasetConfig",
    "Draw",
    "Episode",
    "EpisodeSampler",
    "LabelledItems",
    "PairTable",
    "RetrievalSet",
    "Rows",
    "SamplerConfig",
    "Source",
    "Splits",
    "build_source",
    "fixed_pairs",
    "load_dataset",
    "one_shot_runs",
    "retrieval_set",
    "side_inputs",
]
