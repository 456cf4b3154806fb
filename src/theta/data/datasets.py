"""Small data sets that ship inside theta, and generators of synthetic ones.

Nothing is downloaded: the real data sets are compressed copies in ``theta/data/files/``
(sources and licences in ``files/ATTRIBUTION.md``), read with the standard library and NumPy.
Loaders return an :class:`~theta.data.ArrayDataset` (or ``(X, y)`` with ``return_X_y=True``)
holding the same arrays scikit-learn's loaders return, with the names of their columns and
classes; generators return ``(X, y)`` drawn from a seeded
generator. :func:`list_datasets` and :func:`load_dataset` reach everything by name.
"""

import difflib
import functools
import gzip
import hashlib
import lzma
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from theta.data.loader import ArrayDataset
from theta.rng import check_random_state
from theta.validation import check_scalar

__all__ = [
    "DatasetInfo",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "load_breast_cancer",
    "load_diabetes",
    "load_digits",
    "load_iris",
    "load_tinyshakespeare",
    "make_blobs",
    "make_line",
    "make_moons",
    "make_spirals",
]

_SKLEARN = (
    "Copied from scikit-learn's sklearn/datasets/data (BSD-3-Clause, (c) the scikit-learn "
    "developers); see theta/data/files/ATTRIBUTION.md."
)
_TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


@dataclass(frozen=True)
class DatasetInfo:
    """One line of :func:`list_datasets`.

    Attributes
    ----------
    name : str
        What to pass to :func:`load_dataset`.
    task : str
        ``"classification"``, ``"regression"`` or ``"text"``.
    shape : tuple of int
        Shape of ``X`` (of the text, in characters, for a corpus); for generators, the shape
        their defaults give.
    summary : str
        One-line description.
    generated : bool
        Drawn by a generator (pass ``random_state`` to :func:`load_dataset` for the same
        points every time) rather than read from a shipped file.
    image_shape : tuple of int or None
        ``(C, H, W)`` of one sample when each row of ``X`` is an image read row by row
        (``X.reshape(-1, *image_shape)`` gives the images); None for other data.

    Examples
    --------
    >>> from theta.data import list_datasets
    >>> info = list_datasets()[0]
    >>> info.name, info.task, info.shape
    ('iris', 'classification', (150, 4))
    """

    name: str
    task: str
    shape: tuple[int, ...]
    summary: str
    generated: bool = False
    image_shape: tuple[int, ...] | None = None


def _open(filename: str) -> Any:
    """Open a shipped file in binary mode, wherever the package is installed (even a zip)."""
    return (resources.files("theta.data") / "files" / filename).open("rb")


def _read_table(
    filename: str, *, delimiter: str | None = ",", header: bool = False
) -> tuple[list[str], np.ndarray]:
    """Read a gzipped numeric CSV; return its header fields (if any) and a float64 array."""
    with _open(filename) as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        fields = text.readline().strip().split(",") if header else []
        return fields, np.loadtxt(text, delimiter=delimiter, dtype=np.float64, ndmin=2)


def _classification(
    name: str,
    filename: str,
    feature_names: tuple[str, ...],
    description: str,
    return_X_y: bool,
    target_names: tuple[str, ...] | None = None,
) -> ArrayDataset | tuple[np.ndarray, np.ndarray]:
    """Load a table whose last column is the class index, as scikit-learn's files are laid out.

    The header of sklearn's own CSVs reads ``n_samples,n_features,class names...``; when
    present it is checked against the data and supplies ``target_names``.
    """
    fields, data = _read_table(filename, header=target_names is None)
    if fields:
        n_samples, n_features = int(fields[0]), int(fields[1])
        if data.shape != (n_samples, n_features + 1):
            raise OSError(
                f"{filename} holds an array of shape {data.shape}; its header says "
                f"{n_samples} samples and {n_features} features plus a target."
            )
        target_names = tuple(fields[2:])
    X = np.ascontiguousarray(data[:, :-1])
    y = data[:, -1].astype(np.int64)
    if return_X_y:
        return X, y
    return ArrayDataset(X, y, feature_names=feature_names, target_names=target_names,
                        description=description, name=name)  # fmt: skip


def load_iris(*, return_X_y: bool = False) -> ArrayDataset | tuple[np.ndarray, np.ndarray]:
    """Load Fisher's iris flowers: 150 samples, 4 measurements (cm), 3 species.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of an :class:`~theta.data.ArrayDataset`.

    Returns
    -------
    ArrayDataset or tuple of ndarray
        ``X`` of shape (150, 4), float64; ``y`` of shape (150,), int64 in ``{0, 1, 2}``;
        the same values as ``sklearn.datasets.load_iris``.

    Examples
    --------
    >>> iris = load_iris()
    >>> iris
    ArrayDataset('iris', X=(150, 4) float64, y=(150,) int64, 3 classes)
    >>> iris.target_names
    ('setosa', 'versicolor', 'virginica')
    >>> X, y = load_iris(return_X_y=True)
    >>> X.shape, np.bincount(y).tolist()
    ((150, 4), [50, 50, 50])
    """
    names = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
    description = (
        "Iris plants (R. A. Fisher, 1936): sepal and petal length and width of 50 flowers from "
        "each of 3 species. Source: UCI Machine Learning Repository, Iris (CC BY 4.0), in the "
        f"version distributed with scikit-learn. {_SKLEARN}"
    )
    return _classification("iris", "iris.csv.gz", names, description, return_X_y)


def load_digits(*, return_X_y: bool = False) -> ArrayDataset | tuple[np.ndarray, np.ndarray]:
    """Load the 8x8 handwritten digits: 1797 images, 64 pixel intensities in 0..16, 10 classes.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of an :class:`~theta.data.ArrayDataset`.

    Returns
    -------
    ArrayDataset or tuple of ndarray
        ``X`` of shape (1797, 64), float64, one row per image read row by row (reshape a row
        to (8, 8) to see it); ``y`` of shape (1797,), int64 digits 0..9. The same values as
        ``sklearn.datasets.load_digits``.

    Examples
    --------
    >>> digits = load_digits()
    >>> digits.X.shape, int(digits.y[0]), digits.feature_names[9]
    ((1797, 64), 0, 'pixel_1_1')
    >>> float(digits.X.max())
    16.0
    """
    names = tuple(f"pixel_{row}_{col}" for row in range(8) for col in range(8))
    description = (
        "Optical recognition of handwritten digits (E. Alpaydin and C. Kaynak, 1998): 32x32 "
        "bitmaps reduced to 8x8 blocks counting set pixels (0..16), test part of the UCI set. "
        "Source: UCI Machine Learning Repository, Optical Recognition of Handwritten Digits "
        f"(CC BY 4.0). {_SKLEARN}"
    )
    target_names = tuple(str(d) for d in range(10))
    return _classification("digits", "digits.csv.gz", names, description, return_X_y, target_names)


def load_breast_cancer(*, return_X_y: bool = False) -> ArrayDataset | tuple[np.ndarray, np.ndarray]:
    """Load the Wisconsin diagnostic breast cancer data: 569 samples, 30 features, 2 classes.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of an :class:`~theta.data.ArrayDataset`.

    Returns
    -------
    ArrayDataset or tuple of ndarray
        ``X`` of shape (569, 30), float64, unscaled (features differ by orders of magnitude);
        ``y`` of shape (569,), int64, 0 for malignant and 1 for benign. The same values as
        ``sklearn.datasets.load_breast_cancer``.

    Examples
    --------
    >>> data = load_breast_cancer()
    >>> data.X.shape, data.target_names, np.bincount(data.y).tolist()
    ((569, 30), ('malignant', 'benign'), [212, 357])
    """
    base = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
            "concave points", "symmetry", "fractal dimension")  # fmt: skip
    names = tuple([f"mean {b}" for b in base] + [f"{b} error" for b in base]
                  + [f"worst {b}" for b in base])  # fmt: skip
    description = (
        "Breast Cancer Wisconsin (Diagnostic) (W. H. Wolberg, W. N. Street, O. L. Mangasarian, "
        "1995): mean, standard error and worst value of 10 measurements of cell nuclei in a "
        "digitised image of a fine needle aspirate. Source: UCI Machine Learning Repository "
        f"(CC BY 4.0). {_SKLEARN}"
    )
    return _classification("breast_cancer", "breast_cancer.csv.gz", names, description, return_X_y)


def load_diabetes(
    *, scaled: bool = True, return_X_y: bool = False
) -> ArrayDataset | tuple[np.ndarray, np.ndarray]:
    """Load the diabetes regression data: 442 patients, 10 baseline variables, 1 target.

    Parameters
    ----------
    scaled : bool, default=True
        Centre each feature and scale it to unit sum of squares, as scikit-learn does by
        default; ``False`` gives the raw measurements (age in years, sex coded 1/2, ...).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of an :class:`~theta.data.ArrayDataset`.

    Returns
    -------
    ArrayDataset or tuple of ndarray
        ``X`` of shape (442, 10), float64; ``y`` of shape (442,), float64, a measure of
        disease progression one year after baseline (25 to 346). The same values as
        ``sklearn.datasets.load_diabetes(scaled=scaled)``.

    Examples
    --------
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X.shape, y[:3].tolist()
    ((442, 10), [151.0, 75.0, 141.0])
    >>> bool(np.allclose((X**2).sum(axis=0), 1.0))
    True
    """
    _, X = _read_table("diabetes_data_raw.csv.gz", delimiter=None)
    _, target = _read_table("diabetes_target.csv.gz", delimiter=None)
    y = target.ravel()
    if scaled:
        # sklearn.preprocessing.scale step for step (both statistics taken from the raw
        # columns, then centre, divide, divide by sqrt(n_samples)), so the floats match
        # scikit-learn's bit for bit.
        mean, std = X.mean(axis=0), X.std(axis=0)
        X -= mean
        X /= std
        X /= X.shape[0] ** 0.5
    if return_X_y:
        return X, y
    names = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    description = (
        "Diabetes (B. Efron, T. Hastie, I. Johnstone, R. Tibshirani, 'Least Angle Regression', "
        "Annals of Statistics, 2004): age, sex, body mass index, average blood pressure and six "
        "blood serum measurements (s1..s6) of 442 patients; target is disease progression one "
        "year later. Source: https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html. "
        f"{_SKLEARN}"
    )
    return ArrayDataset(X, y, feature_names=names, description=description, name="diabetes")


@functools.lru_cache(maxsize=2)
def _read_verified_text(filename: str, sha256: str) -> str:
    """Decompress a shipped ``.xz`` text and check its digest (cached: strings are immutable)."""
    with _open(filename) as raw:
        data = lzma.decompress(raw.read())
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise OSError(
            f"{filename} is corrupted: the sha256 of its decompressed contents is {digest}, "
            f"expected {sha256}. Reinstall theta-ml to restore the file."
        )
    return data.decode("utf-8")


def load_tinyshakespeare() -> str:
    """Load tiny shakespeare, the character-level language-modelling corpus of char-rnn.

    1,115,394 characters (65 distinct) of dialogue from Shakespeare's plays, public domain,
    as collected by A. Karpathy for char-rnn and used by nanoGPT. The shipped copy is checked
    against its sha256 after decompression.

    Returns
    -------
    str
        The whole corpus.

    Raises
    ------
    OSError
        If the shipped file does not decompress to the expected text.

    Examples
    --------
    >>> text = load_tinyshakespeare()
    >>> len(text), len(set(text))
    (1115394, 65)
    >>> text[:14]
    'First Citizen:'
    """
    return _read_verified_text("tinyshakespeare.txt.xz", _TINYSHAKESPEARE_SHA256)


def _check_generator_args(n_samples: int, noise: float) -> None:
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    check_scalar(noise, "noise", numbers.Real, min_val=0)


def _split_evenly(n_samples: int, n_groups: int) -> np.ndarray:
    """Group sizes that differ by at most one, larger groups first (as scikit-learn splits)."""
    sizes = np.full(n_groups, n_samples // n_groups, dtype=np.int64)
    sizes[: n_samples % n_groups] += 1
    return sizes


def _shuffled(
    X: np.ndarray, y: np.ndarray, shuffle: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if not shuffle:
        return X, y
    order = rng.permutation(len(X))
    return X[order], y[order]


def make_line(
    n_samples: int = 5,
    slope: float = 2.0,
    intercept: float = 1.0,
    *,
    noise: float = 0.0,
    random_state: None | int | np.random.Generator = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points on the line ``y = slope * x + intercept`` at ``x = 0, 1, ..., n_samples - 1``.

    With the defaults this is the chapter's data: x = 0..4 and y = 2x + 1, exactly.

    Parameters
    ----------
    n_samples : int, default=5
        Number of points.
    slope, intercept : float, default=2.0, 1.0
        The line the model should recover.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to ``y``.
    random_state : None, int or numpy.random.Generator, default=None
        Source of the noise (unused when ``noise`` is 0).

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        The inputs, float64.
    y : ndarray of shape (n_samples,)
        The targets, float64.

    Examples
    --------
    >>> X, y = make_line()
    >>> X.ravel().tolist(), y.tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0, 7.0, 9.0])
    """
    _check_generator_args(n_samples, noise)
    X = np.arange(n_samples, dtype=np.float64).reshape(-1, 1)  # (n_samples, 1)
    y = slope * X[:, 0] + intercept
    if noise:
        y += noise * check_random_state(random_state).standard_normal(n_samples)
    return X, y


def make_blobs(
    n_samples: int = 100,
    *,
    centers: int | Any = 3,
    n_features: int = 2,
    cluster_std: float | Any = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    random_state: None | int | np.random.Generator = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around random (or given) centres, one class per blob.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points, split as evenly as possible between the blobs.
    centers : int or array-like of shape (n_centers, n_features), default=3
        How many centres to draw uniformly in ``center_box``, or the centres themselves
        (then ``n_features`` is taken from them).
    n_features : int, default=2
        Dimension of each point when ``centers`` is an int.
    cluster_std : float or array-like of shape (n_centers,), default=1.0
        Standard deviation of each blob.
    center_box : tuple of float, default=(-10.0, 10.0)
        Bounds of the drawn centres.
    shuffle : bool, default=True
        Mix the samples; otherwise they come blob by blob.
    random_state : None, int or numpy.random.Generator, default=None
        Source of the centres, the points and the order.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points, float64.
    y : ndarray of shape (n_samples,)
        The blob of each point, int64.

    Examples
    --------
    >>> X, y = make_blobs(n_samples=10, centers=[[0.0, 0.0], [5.0, 5.0]], random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((10, 2), [5, 5])
    """
    _check_generator_args(n_samples, 0.0)
    rng = check_random_state(random_state)
    if isinstance(centers, numbers.Integral):
        check_scalar(centers, "centers", numbers.Integral, min_val=1)
        check_scalar(n_features, "n_features", numbers.Integral, min_val=1)
        low, high = center_box
        centers = rng.uniform(low, high, size=(int(centers), int(n_features)))
    else:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2:
            raise ValueError(
                f"centers must be an int or an array of shape (n_centers, n_features); "
                f"got shape {centers.shape}."
            )
    n_centers = len(centers)
    stds = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (n_centers,))
    if (stds < 0).any():
        raise ValueError(f"cluster_std must be non-negative; got {cluster_std!r}.")
    sizes = _split_evenly(n_samples, n_centers)
    X = np.concatenate([
        rng.normal(center, std, size=(size, centers.shape[1]))
        for center, std, size in zip(centers, stds, sizes, strict=True)
    ])  # fmt: skip
    y = np.repeat(np.arange(n_centers, dtype=np.int64), sizes)
    return _shuffled(X, y, shuffle, rng)


def make_moons(
    n_samples: int = 100,
    *,
    noise: float = 0.0,
    shuffle: bool = True,
    random_state: None | int | np.random.Generator = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: a small problem no straight line can separate.

    Without noise and shuffling the points equal scikit-learn's ``make_moons``: class 0 on
    the upper half circle of radius 1 around (0, 0), class 1 on the lower one around
    (1, 0.5), with ``x`` in [-1, 2] and ``y`` in [-0.5, 1].

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points; the upper moon gets ``n_samples // 2``.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to every coordinate.
    shuffle : bool, default=True
        Mix the samples; otherwise class 0 comes first.
    random_state : None, int or numpy.random.Generator, default=None
        Source of the noise and the order.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points, float64.
    y : ndarray of shape (n_samples,)
        The moon of each point, int64.

    Examples
    --------
    >>> X, y = make_moons(n_samples=4, shuffle=False)
    >>> X.round(2).tolist(), y.tolist()
    ([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [2.0, 0.5]], [0, 0, 1, 1])
    """
    _check_generator_args(n_samples, noise)
    rng = check_random_state(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.column_stack([
        np.append(np.cos(outer), 1 - np.cos(inner)),
        np.append(np.sin(outer), 1 - np.sin(inner) - 0.5),
    ])  # fmt: skip
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    X, y = _shuffled(X, y, shuffle, rng)
    if noise:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


def make_spirals(
    n_samples: int = 100,
    *,
    n_classes: int = 2,
    noise: float = 0.0,
    n_turns: float = 1.0,
    shuffle: bool = True,
    random_state: None | int | np.random.Generator = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm: hard for linear models, easy for an MLP.

    Arm ``k`` starts at angle ``2 pi k / n_classes`` near the origin and winds ``n_turns``
    times outwards to radius 1, so without noise every point lies in the unit disc.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points, split as evenly as possible between the arms.
    n_classes : int, default=2
        Number of arms.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to every coordinate.
    n_turns : float, default=1.0
        Revolutions each arm makes.
    shuffle : bool, default=True
        Mix the samples; otherwise they come arm by arm.
    random_state : None, int or numpy.random.Generator, default=None
        Source of the noise and the order.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points, float64.
    y : ndarray of shape (n_samples,)
        The arm of each point, int64.

    Examples
    --------
    >>> X, y = make_spirals(n_samples=300, n_classes=3, random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    >>> bool((np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-12).all())
    True
    """
    _check_generator_args(n_samples, noise)
    check_scalar(n_classes, "n_classes", numbers.Integral, min_val=1)
    check_scalar(n_turns, "n_turns", numbers.Real)
    rng = check_random_state(random_state)
    sizes = _split_evenly(n_samples, n_classes)
    arms = []
    for k, size in enumerate(sizes):
        # Skip t = 0: every arm starts at the origin, where the classes would coincide.
        t = np.linspace(0.0, 1.0, size + 1)[1:]
        angle = 2 * math.pi * (k / n_classes + n_turns * t)
        arms.append(np.column_stack([t * np.cos(angle), t * np.sin(angle)]))
    X = np.concatenate(arms)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    X, y = _shuffled(X, y, shuffle, rng)
    if noise:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


_REGISTRY: dict[str, tuple[Callable[..., Any], DatasetInfo]] = {
    info.name: (fn, info)
    for fn, info in [
        (load_iris, DatasetInfo("iris", "classification", (150, 4),
                                "Fisher's iris flowers: 4 measurements, 3 species")),
        (load_digits, DatasetInfo("digits", "classification", (1797, 64),
                                  "8x8 images of handwritten digits 0-9",
                                  image_shape=(1, 8, 8))),
        (load_breast_cancer, DatasetInfo("breast_cancer", "classification", (569, 30),
                                         "Wisconsin diagnostic breast cancer: malignant/benign")),
        (load_diabetes, DatasetInfo("diabetes", "regression", (442, 10),
                                    "Diabetes progression from 10 scaled baseline variables")),
        (load_tinyshakespeare, DatasetInfo("tinyshakespeare", "text", (1115394,),
                                           "Shakespeare's plays, 65 distinct characters")),
        (make_line, DatasetInfo("line", "regression", (5, 1),
                                "The chapter's line y = 2x + 1 at x = 0..4 (synthetic)", True)),
        (make_blobs, DatasetInfo("blobs", "classification", (100, 2),
                                 "Gaussian blobs, one class each (synthetic)", True)),
        (make_moons, DatasetInfo("moons", "classification", (100, 2),
                                 "Two interleaving half circles (synthetic)", True)),
        (make_spirals, DatasetInfo("spirals", "classification", (100, 2),
                                   "Interleaved spiral arms, one class each (synthetic)", True)),
    ]
}  # fmt: skip


def list_datasets() -> list[DatasetInfo]:
    """Describe every data set :func:`load_dataset` knows: name, task, shape and a summary.

    Returns
    -------
    list of DatasetInfo
        The shipped data sets first, then the generators (with their default shapes).

    Examples
    --------
    >>> [info.name for info in list_datasets()][:4]
    ['iris', 'digits', 'breast_cancer', 'diabetes']
    >>> list_datasets()[0].shape
    (150, 4)
    """
    return [info for _, info in _REGISTRY.values()]


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Load a data set or run a generator by name.

    Parameters
    ----------
    name : str
        One of the names of :func:`list_datasets`; case, hyphens and a ``load_``/``make_``
        prefix are forgiven.
    **kwargs
        Passed to the loader or generator (``return_X_y=True``, ``n_samples=200``, ...).

    Returns
    -------
    ArrayDataset, tuple of ndarray or str
        Whatever the named function returns: an :class:`~theta.data.ArrayDataset` for shipped
        tables, ``(X, y)``
        for generators, a ``str`` for the text corpus.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message suggests the closest valid name.

    Examples
    --------
    >>> load_dataset("iris").X.shape
    (150, 4)
    >>> X, y = load_dataset("moons", n_samples=10, random_state=0)
    >>> load_dataset("irsi")
    Traceback (most recent call last):
    ...
    ValueError: Unknown data set 'irsi'. Did you mean 'iris'? Valid names: iris, digits, \
breast_cancer, diabetes, tinyshakespeare, line, blobs, moons, spirals.
    """
    fn, _ = _REGISTRY[_key(name)]
    return fn(**kwargs)


def dataset_info(name: str) -> DatasetInfo:
    """The :func:`list_datasets` line of data set ``name`` (the names of :func:`load_dataset`).

    Examples
    --------
    >>> dataset_info("Load_Iris").task
    'classification'
    """
    return _REGISTRY[_key(name)][1]


def _key(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = key.removeprefix("load_").removeprefix("make_")
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown data set {name!r}.{hint} Valid names: {', '.join(_REGISTRY)}.")
    return key
