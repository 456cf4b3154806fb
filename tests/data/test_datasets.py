"""Shipped data sets (checked against scikit-learn's loaders) and synthetic generators."""

import hashlib

import numpy as np
import pytest

from theta import data
from theta.data import (
    ArrayDataset,
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
from theta.data import datasets as datasets_module

TABLES = [
    # name            loader              X shape      y dtype     n_classes
    ("iris", load_iris, (150, 4), np.int64, 3),
    ("digits", load_digits, (1797, 64), np.int64, 10),
    ("breast_cancer", load_breast_cancer, (569, 30), np.int64, 2),
    ("diabetes", load_diabetes, (442, 10), np.float64, None),
]  # fmt: skip
TABLE_IDS = [t[0] for t in TABLES]


@pytest.fixture(scope="module")
def sklearn_datasets():
    return pytest.importorskip("sklearn.datasets")


# ---------------------------------------------------------------- shipped tables


@pytest.mark.parametrize("name, loader, shape, y_dtype, n_classes", TABLES, ids=TABLE_IDS)
def test_table_shapes_dtypes_and_metadata(name, loader, shape, y_dtype, n_classes):
    ds = loader()
    assert isinstance(ds, ArrayDataset) and ds.name == name
    assert ds.X.shape == shape and ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.y.shape == (shape[0],) and ds.y.dtype == y_dtype
    assert len(ds.feature_names) == shape[1] and all(isinstance(n, str) for n in ds.feature_names)
    if n_classes is None:
        assert ds.target_names is None
    else:
        assert len(ds.target_names) == n_classes
        assert sorted(np.unique(ds.y).tolist()) == list(range(n_classes))
    assert "scikit-learn" in ds.description and "BSD" in ds.description
    assert name in repr(ds) and str(shape) in repr(ds)


@pytest.mark.parametrize("name, loader, shape, y_dtype, n_classes", TABLES, ids=TABLE_IDS)
def test_tables_equal_sklearn(sklearn_datasets, name, loader, shape, y_dtype, n_classes):
    ours = loader()
    theirs = getattr(sklearn_datasets, f"load_{name}")()
    # exact, diabetes included: the scaling repeats sklearn's arithmetic step for step
    np.testing.assert_array_equal(ours.X, theirs.data)
    np.testing.assert_array_equal(ours.y, theirs.target)
    assert list(ours.feature_names) == [str(n) for n in theirs.feature_names]
    if n_classes is not None:
        assert list(ours.target_names) == [str(n) for n in theirs.target_names]


def test_raw_diabetes_equals_sklearn(sklearn_datasets):
    X, y = load_diabetes(scaled=False, return_X_y=True)
    theirs = sklearn_datasets.load_diabetes(scaled=False)
    np.testing.assert_array_equal(X, theirs.data)
    np.testing.assert_array_equal(y, theirs.target)


def test_scaled_diabetes_columns_are_centred_with_unit_norm():
    X = load_diabetes().X
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose((X**2).sum(axis=0), 1.0)


@pytest.mark.parametrize("loader", [t[1] for t in TABLES])
def test_return_X_y(loader):
    X, y = loader(return_X_y=True)
    ds = loader()
    np.testing.assert_array_equal(X, ds.X)
    np.testing.assert_array_equal(y, ds.y)


def test_loaders_return_fresh_arrays():
    a = load_iris()
    a.X[0, 0] = -1.0
    assert load_iris().X[0, 0] == 5.1


def test_dataset_is_frozen():
    ds = load_iris()
    with pytest.raises(AttributeError):
        ds.X = None


# ---------------------------------------------------------------- tiny shakespeare


def test_tinyshakespeare():
    text = load_tinyshakespeare()
    assert isinstance(text, str)
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    expected = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == expected


def test_tinyshakespeare_checksum_mismatch_is_a_clear_error():
    with pytest.raises(OSError, match=r"tinyshakespeare\.txt\.xz is corrupted.*sha256.*Reinstall"):
        datasets_module._read_verified_text("tinyshakespeare.txt.xz", "0" * 64)


def test_shipped_files_are_small_and_attributed():
    from importlib import resources

    folder = resources.files("theta.data") / "files"
    sizes = {f.name: len(f.read_bytes()) for f in folder.iterdir() if f.is_file()}
    assert sum(sizes.values()) < 600_000
    attribution = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for name in sizes:
        assert name == "ATTRIBUTION.md" or name in attribution, f"{name} not attributed"
    assert "BSD 3-Clause" in attribution and "public domain" in attribution


# ---------------------------------------------------------------- generators


def test_make_line_is_the_chapters_data():
    X, y = make_line()
    np.testing.assert_array_equal(X, np.array([[0.0], [1.0], [2.0], [3.0], [4.0]]))
    np.testing.assert_array_equal(y, 2.0 * np.array([0.0, 1.0, 2.0, 3.0, 4.0]) + 1.0)
    assert X.dtype == y.dtype == np.float64 and y.shape == (5,)


def test_make_line_noise_and_options():
    X, y = make_line(20, slope=-1.0, intercept=3.0, noise=0.1, random_state=0)
    X2, y2 = make_line(20, slope=-1.0, intercept=3.0, noise=0.1, random_state=0)
    np.testing.assert_array_equal(y, y2)
    residual = y - (-X[:, 0] + 3.0)
    assert 0 < np.abs(residual).max() < 0.5


GENERATORS = [
    (make_blobs, dict(n_samples=60, centers=4, n_features=3)),
    (make_moons, dict(n_samples=60, noise=0.1)),
    (make_spirals, dict(n_samples=60, n_classes=3, noise=0.05)),
]


@pytest.mark.parametrize("make, kwargs", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generators_deterministic_by_random_state(make, kwargs):
    X1, y1 = make(**kwargs, random_state=0)
    X2, y2 = make(**kwargs, random_state=0)
    X3, _ = make(**kwargs, random_state=1)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.dtype == np.float64 and y1.dtype == np.int64 and len(X1) == len(y1) == 60


def test_make_moons_matches_sklearn_without_noise(sklearn_datasets):
    for n in (7, 100):
        X, y = make_moons(n, shuffle=False)
        X_sk, y_sk = sklearn_datasets.make_moons(n, shuffle=False)
        np.testing.assert_array_equal(X, X_sk)
        np.testing.assert_array_equal(y, y_sk)


def test_make_moons_shape_and_ranges():
    X, y = make_moons(200, noise=0.05, random_state=0)
    assert X.shape == (200, 2) and np.bincount(y).tolist() == [100, 100]
    assert -1.4 < X[:, 0].min() < -0.8 and 1.8 < X[:, 0].max() < 2.4
    assert -0.9 < X[:, 1].min() < -0.3 and 0.8 < X[:, 1].max() < 1.4
    # the upper moon lies above the lower one on average, as in sklearn's
    assert X[y == 0, 1].mean() > X[y == 1, 1].mean()


def test_make_blobs_like_sklearn(sklearn_datasets):
    X, y = make_blobs(n_samples=301, centers=3, n_features=2, random_state=0)
    X_sk, y_sk = sklearn_datasets.make_blobs(n_samples=301, centers=3, random_state=0)
    assert X.shape == X_sk.shape and np.bincount(y).tolist() == np.bincount(y_sk).tolist()
    assert np.abs(X).max() < 15  # centres in [-10, 10], unit spread
    for k in range(3):
        assert np.allclose(X[y == k].std(axis=0), 1.0, atol=0.25)


def test_make_blobs_given_centres_and_stds():
    centers = np.array([[0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])
    X, y = make_blobs(n_samples=400, centers=centers, cluster_std=[0.5, 2.0], random_state=0)
    assert X.shape == (400, 3)
    for k, std in enumerate([0.5, 2.0]):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centers[k], atol=0.5)
        np.testing.assert_allclose(X[y == k].std(axis=0), std, rtol=0.2)
    X, y = make_blobs(n_samples=6, centers=centers, shuffle=False, random_state=0)
    assert y.tolist() == [0, 0, 0, 1, 1, 1]


def test_make_spirals_shape_and_arms():
    X, y = make_spirals(n_samples=101, n_classes=2, random_state=0)
    assert X.shape == (101, 2) and np.bincount(y).tolist() == [51, 50]
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.min() > 0 and radius.max() <= 1.0 + 1e-12
    # no two points of different arms coincide
    d = np.linalg.norm(X[y == 0][:, None] - X[y == 1][None], axis=-1)
    assert d.min() > 1e-3


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="noise"):
        make_moons(noise=-0.1)
    with pytest.raises(ValueError, match="n_samples"):
        make_line(0)
    with pytest.raises(TypeError, match="n_samples"):
        make_spirals(2.5)
    with pytest.raises(ValueError, match="cluster_std"):
        make_blobs(centers=2, cluster_std=-1.0)
    with pytest.raises(ValueError, match="centers must be"):
        make_blobs(centers=[1.0, 2.0])


# ---------------------------------------------------------------- registry


def test_list_datasets_shapes_are_true():
    infos = list_datasets()
    assert [i.name for i in infos][:5] == [
        "iris", "digits", "breast_cancer", "diabetes", "tinyshakespeare"
    ]  # fmt: skip
    for info in infos:
        assert info.summary and "\n" not in info.summary
        assert info.task in {"classification", "regression", "text"}
        result = load_dataset(info.name)
        if isinstance(result, str):
            assert (len(result),) == info.shape
        else:
            X = result.X if isinstance(result, ArrayDataset) else result[0]
            assert X.shape == info.shape, info.name


def test_load_dataset_by_name_passes_arguments():
    X, y = load_dataset("iris", return_X_y=True)
    assert X.shape == (150, 4)
    X, y = load_dataset("Make-Moons", n_samples=10, random_state=0)
    assert X.shape == (10, 2)
    assert load_dataset("load_breast_cancer").name == "breast_cancer"


def test_load_dataset_unknown_name_suggests_and_lists():
    with pytest.raises(ValueError, match=r"Unknown data set 'digts'\. Did you mean 'digits'\?"):
        load_dataset("digts")
    with pytest.raises(ValueError, match=r"Valid names: iris, digits, .*spirals\.") as info:
        load_dataset("cifar10")
    assert "Did you mean" not in str(info.value)


def test_public_names_exported():
    for name in data.__all__:
        assert hasattr(data, name)


def test_the_data_set_loader_is_load_dataset_not_a_second_load():
    # `theta.data.load` read like `theta.io.load`; the data set loader is `load_dataset` now
    assert "load" not in data.__all__ and "load_dataset" in data.__all__
    assert not hasattr(data, "load")
