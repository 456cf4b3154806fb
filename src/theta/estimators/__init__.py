"""Learners with scikit-learn's estimator contract: supervised, unsupervised, non-parametric."""

import importlib
import pkgutil

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
from theta.params import clone

__all__ = [
    "BaseEstimator", "ClassifierMixin", "ClusterMixin", "Interval", "Options", "RegressorMixin",
    "TransformerMixin", "all_estimators", "check_classification_targets", "check_is_fitted",
    "clone",
]  # fmt: skip


def all_estimators() -> list[type]:
    """Every public estimator class in ``theta.estimators``, sorted by name."""
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
