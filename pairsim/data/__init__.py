"""pairsim's data layer: datasets, splits, pair/triplet/episode sampling and DataLoaders.

* :mod:`pairsim.data.types`: :class:`LabelledItems`, :class:`PairTable`, :class:`CaptionImages`, :class:`Splits`.
* :mod:`pairsim.data.sources`: the :data:`DATASETS` registry and :func:`load_dataset`.
* :mod:`pairsim.data.sampling`, :mod:`pairsim.data.episodes`, :mod:`pairsim.data.batching`: what to pair.
* :mod:`pairsim.data.loaders`: :func:`build_loader` for "pairs", "triplets", "classes" and "aligned" batches.
* :mod:`pairsim.data.retrieval`: caption-image retrieval evaluation sets.

**Label 1 = similar** everywhere.
"""

from pairsim.data.augment import AugmentConfig, Augmenter
from pairsim.data.batching import CaptionBatchSampler, EpochBatchSampler, IndexBatchSampler, PKBatchSampler
from pairsim.data.episodes import Episode, EpisodeSampler
from pairsim.data.loaders import BATCH_KINDS, LoaderConfig, build_loader, build_loaders, item_loader, set_epoch
from pairsim.data.retrieval import RetrievalSet, retrieval_set
from pairsim.data.sampling import PairDataset, TripletDataset, fixed_pairs
from pairsim.data.sources import DATASETS, DatasetConfig, Source, build_source, load_dataset, one_shot_runs
from pairsim.data.tokenize import tokenize_texts
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits

__all__ = [
    "BATCH_KINDS",
    "DATASETS",
    "AugmentConfig",
    "Augmenter",
    "CaptionBatchSampler",
    "CaptionImages",
    "DatasetConfig",
    "Episode",
    "EpisodeSampler",
    "EpochBatchSampler",
    "IndexBatchSampler",
    "LabelledItems",
    "LoaderConfig",
    "PKBatchSampler",
    "PairDataset",
    "PairTable",
    "RetrievalSet",
    "Source",
    "Splits",
    "TripletDataset",
    "build_loader",
    "build_loaders",
    "build_source",
    "fixed_pairs",
    "item_loader",
    "load_dataset",
    "one_shot_runs",
    "retrieval_set",
    "set_epoch",
    "tokenize_texts",
]
