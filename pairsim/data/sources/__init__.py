"""Dataset sources; importing this package registers every one in :data:`DATASETS`."""

from pairsim.data.sources import (  # noqa: F401  (imported to register)
    att_faces,
    captions,
    digits,
    flickr8k,
    fnc1,
    hf_dataset,
    image_folder,
    in_memory,
    mnist,
    mrpc,
    negatives_table,
    omniglot,
    pair_table,
    quora,
    rankiqa,
    stsb,
)
from pairsim.data.sources.base import DATASETS, DatasetConfig, NamedDatasetConfig, Source, build_source, load_dataset
from pairsim.data.sources.omniglot import one_shot_runs

__all__ = [
    "DATASETS",
    "DatasetConfig",
    "NamedDatasetConfig",
    "Source",
    "build_source",
    "load_dataset",
    "one_shot_runs",
]
