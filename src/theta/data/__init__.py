"""Data for training: minibatches, validation splits, shipped data sets and generators.

Everything runs offline: the real data sets (iris, digits, breast cancer, diabetes, tiny
shakespeare) are compressed copies inside the package, with their sources and licences in
``theta/data/files/ATTRIBUTION.md``.
"""

from theta.data.batching import BatchIterator, minibatches, train_test_split, train_val_split
from theta.data.datasets import (
    Dataset,
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

__all__ = [
    "BatchIterator", "minibatches", "train_test_split", "train_val_split",
    "Dataset", "DatasetInfo", "dataset_info", "list_datasets", "load_breast_cancer", "load_dataset",
    "load_diabetes", "load_digits", "load_iris", "load_tinyshakespeare", "make_blobs",
    "make_line", "make_moons", "make_spirals",
]  # fmt: skip
