"""The exception and warning types theta raises, so callers can catch theta's errors by name.

Where scikit-learn has a type of the same name (``NotFittedError``, ``DataConversionWarning``),
:func:`sklearn_twin` gives the type to raise: theta's own, or — when scikit-learn is already
loaded, as it is whenever its ``check_estimator`` or ``GridSearchCV`` drives a theta
estimator — a subclass of both, so ``except`` clauses written for either one catch it.
theta never imports scikit-learn to do this.
"""

import sys

__all__ = [
    "sklearn_twin",
    "CheckpointError",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DivergenceError",
    "InvalidParameterError",
    "NotFittedError",
    "UndefinedMetricWarning",
]


class NotFittedError(ValueError, AttributeError):
    """An estimator or model was used for inference before ``fit`` (scikit-learn's type)."""


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has a value or type outside its allowed range (scikit-learn's type)."""


class CheckpointError(ValueError):
    """A checkpoint file is malformed, truncated, or does not match the model loading it."""


class DivergenceError(RuntimeError):
    """Training produced a non-finite or exploding loss and cannot continue."""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before meeting its tolerance."""


class DataConversionWarning(UserWarning):
    """Input data was converted to the shape or type an estimator needs (scikit-learn's type)."""


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined (e.g. precision with no predicted samples) and was set to
    ``zero_division`` (scikit-learn's type)."""


_twins: dict[type, type] = {}


def sklearn_twin(cls: type) -> type:
    """``cls``, or a subclass of it and of scikit-learn's type of the same name if loaded."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None or not hasattr(sklearn_exceptions, cls.__name__):
        return cls
    if cls not in _twins:
        theirs = getattr(sklearn_exceptions, cls.__name__)
        _twins[cls] = type(cls.__name__, (cls, theirs), {"__module__": cls.__module__})
    return _twins[cls]
