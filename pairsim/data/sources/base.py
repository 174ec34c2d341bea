"""The dataset registry: a recipe names a dataset, its ``Config`` parses the rest, ``load()`` gives splits.

Each named dataset reads the same files whether they came from its ``download: true`` option or were put
in place by hand; a dataset that is not on disk is one :class:`~pairsim.errors.DataError` saying where the
files go and how to get them. Nothing is ever downloaded unless the config asks for it.

Example:
    >>> from pairsim.data.sources import DATASETS, load_dataset
    >>> splits = load_dataset({"name": "digits", "seed": 0})
    >>> sorted(set(splits.train.labels)) == list(range(10))
    True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pairsim.config import MAX_SEED, ComponentConfig, bounded, from_dict
from pairsim.data.paths import data_root
from pairsim.data.types import Splits
from pairsim.errors import DataError
from pairsim.registry import Registry

DATASETS: Registry[type[Source[Any]]] = Registry("dataset")


@dataclasses.dataclass(frozen=True)
class ExtraEvaluation:
    """Data a source hands to the evaluator beside a split (the source never evaluates a model itself).

    Args:
        prefix: Prefix of the metrics' names (``official`` -> ``official_accuracy``).
        data: The data, of a type the metric group applies to (e.g. :class:`~pairsim.data.episodes.FixedEpisodes`).
        metrics: The metric group (``pairsim.evaluate.EVALUATIONS``) that evaluates it.
    """

    prefix: str
    data: Any
    metrics: str


@dataclasses.dataclass(kw_only=True)
class DatasetConfig(ComponentConfig):
    """Base of every dataset's config; ``name`` picks the registered dataset."""

    registry: ClassVar[Any] = DATASETS
    # the boolean settings that filter the training split only (drop_test_overlap): off when a frozen model is
    # evaluated (pairsim eval of an encoder or --untrained), which never sees that split
    train_filters: ClassVar[tuple[str, ...]] = ()
    seed: int = bounded(0, ge=0, le=MAX_SEED)  # seed of the train/val/test split (same seed, same split)
    # largest share of a split a filter (drop_test_overlap, drop_empty) may remove before loading stops
    # (past 0.2 it is logged as a warning); 1: never stop
    max_filtered: float = bounded(0.5, ge=0, le=1)
    # a mined table (``pairsim mine``: anchor, positive, negative_1 .. n) joined to the training split: its similar
    # pairs that have a row, with that row's negatives (val / test unchanged; pairsim.data.train_negatives)
    train_negatives: str | None = None

    def without_train_filters(self) -> DatasetConfig:
        """A copy with every setting of :attr:`train_filters` off (the data a frozen model is evaluated on).

        Example:
            >>> from pairsim.data.sources.mrpc import Mrpc
            >>> Mrpc.Config().without_train_filters().drop_test_overlap
            False
        """
        return dataclasses.replace(self, **{name: False for name in self.train_filters})


@dataclasses.dataclass(kw_only=True)
class NamedDatasetConfig(DatasetConfig):
    """Config of a named public dataset with a default folder and a download option."""

    path: str | None = None  # folder with the files; None: $PAIRSIM_DATA_DIR/<folder> or ~/.cache/pairsim/data/<folder>
    download: bool = False  # fetch the files from their public source when missing (never implicit)


C = TypeVar("C", bound=DatasetConfig)


class Source(Generic[C]):
    """Base class of dataset sources. Subclasses set ``Config`` (and ``folder`` for named datasets).

    Args:
        config: The dataset's config.
    """

    Config: ClassVar[type[DatasetConfig]] = DatasetConfig
    folder: ClassVar[str] = ""  # default folder name under the data directory
    citation: ClassVar[str] = ""  # where the data comes from (see data_cards/<name>.md)

    def __init__(self, config: C) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    def root(self) -> Path:
        """The folder holding the files (explicit path, else $PAIRSIM_DATA_DIR/<folder>, else the cache)."""
        return data_root(getattr(self.config, "path", None), self.folder or self.config.name)

    def prepare(self) -> Path:
        """The data folder, downloading into it first when the config says ``download: true``.

        Raises:
            DataError: The files are missing; the message says where to put them and how to get them.
        """
        root = self.root()
        if getattr(self.config, "download", False) and not self.present(root):
            self.download(root)
        self.check(root)
        return root

    def present(self, root: Path) -> bool:
        """Whether the files are in ``root``."""
        try:
            self.check(root)
        except DataError:
            return False
        return True

    def check(self, root: Path) -> None:
        """Raise DataError naming the folder and how to get the files unless they are in ``root``."""

    def download(self, root: Path) -> None:
        """Fetch the files into ``root`` from the public source."""
        raise DataError(f"dataset {self.name!r} has no download; put its files in {root}")

    def load(self) -> Splits[Any]:
        """The train/val/test splits."""
        raise NotImplementedError

    def extra_evaluations(self, split: str) -> list[ExtraEvaluation]:
        """Data of the dataset's own evaluation beyond the split itself, handed to the evaluator; none by default.

        Args:
            split: "val" or "test".

        Returns:
            The extra data, each with the metric group that evaluates it and the prefix of its metrics'
            names (e.g. Omniglot's official runs: ``official_accuracy``).
        """
        return []


def load_dataset(config: DatasetConfig | dict[str, Any]) -> Splits[Any]:
    """Load the splits of the dataset a config names.

    Args:
        config: A dataset config, or plain data (``{"name": "omniglot", ...}``) parsed strictly.

    Returns:
        The dataset's train/val/test :class:`~pairsim.data.types.Splits` (the training split joined to the
        config's ``train_negatives`` table when it names one).
    """
    import pairsim.data.sources  # noqa: F401  (registers every source)

    if isinstance(config, dict):
        config = from_dict(DatasetConfig, config, where="dataset")
    splits = DATASETS.get(config.name)(config).load()
    if config.train_negatives is not None:
        from pairsim.data.train_negatives import join_negatives

        splits = Splits(join_negatives(splits.train, config.train_negatives), splits.val, splits.test)
    return splits


def build_source(config: DatasetConfig | dict[str, Any]) -> Source[Any]:
    """The :class:`Source` object for a config (to call ``load`` or source-specific helpers)."""
    import pairsim.data.sources  # noqa: F401

    if isinstance(config, dict):
        config = from_dict(DatasetConfig, config, where="dataset")
    return DATASETS.get(config.name)(config)
