"""Learners with scikit-learn's estimator contract: supervised, unsupervised, non-parametric.

Every estimator, fitted or not, saves to a folder and loads back with ``theta.io`` (JSON and
safetensors, never pickle), predicting exactly what it predicted before:

>>> import os, tempfile
>>> from theta import io
>>> from theta.estimators.linear import LinearRegression
>>> X, y = [[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]
>>> line = LinearRegression().fit(X, y)
>>> with tempfile.TemporaryDirectory() as d:
...     io.save(line, os.path.join(d, "line"))
...     again = io.load(os.path.join(d, "line"))
>>> bool((again.predict(X) == line.predict(X)).all()), again.get_params() == line.get_params()
(True, True)
"""

import importlib
import pkgutil

from theta.data import train_test_split
from theta.estimators.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    Interval,
    Options,
    RegressorMixin,
    TransformerMixin,
    check_classification_targets,
    check_is_fitted,
)  # fmt: skip
from theta.estimators.cluster import KMeans
from theta.estimators.decomposition import PCA, Autoencoder
from theta.estimators.incremental_pca import IncrementalPCA
from theta.estimators.linear import LinearRegression, LogisticRegression, Ridge
from theta.estimators.minibatch_kmeans import MiniBatchKMeans
from theta.estimators.neighbors import KNeighborsClassifier, KNeighborsRegressor, recall_at_k
from theta.estimators.neural import MLPClassifier, MLPRegressor, ModuleClassifier, ModuleRegressor
from theta.estimators.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)
from theta.estimators.semantic import SemanticSearch
from theta.estimators.sgd import SGDClassifier, SGDRegressor
from theta.params import clone

__all__ = [
    "PCA", "Autoencoder", "BaseEstimator", "ClassifierMixin", "ClusterMixin", "IncrementalPCA",
    "Interval", "KMeans", "KNeighborsClassifier", "KNeighborsRegressor", "LinearRegression",
    "LogisticRegression", "MLPClassifier", "MLPRegressor", "MiniBatchKMeans", "MinMaxScaler",
    "ModuleClassifier", "ModuleRegressor", "OneHotEncoder", "Options", "PolynomialFeatures",
    "RegressorMixin", "Ridge", "SGDClassifier", "SGDRegressor", "SemanticSearch", "StandardScaler",
    "TransformerMixin", "all_estimators", "check_classification_targets", "check_is_fitted",
    "clone", "recall_at_k", "train_test_split",
]  # fmt: skip


def all_estimators() -> list[type]:
    """Every public estimator class in ``theta.estimators``, sorted by name.

    Examples
    --------
    >>> from theta.estimators import all_estimators
    >>> names = [cls.__name__ for cls in all_estimators()]
    >>> "Ridge" in names, names == sorted(names)
    (True, True)
    """
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    found = {
        cls for cls in _subclasses(BaseEstimator)
        if cls.__module__.startswith(__name__) and not cls.__name__.startswith("_")
    }  # fmt: skip
    return sorted(found, key=lambda cls: cls.__name__)


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out
