"""Data for training: datasets and loaders, validation splits, shipped data sets and generators.

A dataset is read a batch at a time (``__len__`` and ``__getitem__(indices)``, see
:class:`Dataset`), so data larger than memory (a memory map, a Dask array) trains with a few
batches in memory; :class:`DataLoader` batches, shuffles and prefetches it. Everything runs
offline: the real data sets (iris, digits, breast cancer, diabetes, tiny shakespeare) are
compressed copies inside the package, with their sources and licences in
``theta/data/files/ATTRIBUTION.md``.
"""

from theta.data.batching import minibatches, train_test_split, train_val_split
from theta.data.datasets import (
    DatasetInfo,
    dataset_info,
    list_datasets,
    load_breast_cancer,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_tinyshakespeare,
    make_blobs,
    make_line,
    make_moons,
    make_spirals,
)
from theta.data.loader import ArrayDataset, DataLoader, Dataset

__all__ = [
    "ArrayDataset", "DataLoader", "Dataset",
    "minibatches", "train_test_split", "train_val_split",
    "DatasetInfo", "dataset_info", "list_datasets", "load_breast_cancer", "load_dataset",
    "load_diabetes", "load_digits", "load_iris", "load_tinyshakespeare", "make_blobs",
    "make_line", "make_moons", "make_spirals",
]  # fmt: skip
