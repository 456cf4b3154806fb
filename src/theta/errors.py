"""The exception and warning types theta raises, so callers can catch theta's errors by name."""

__all__ = [
    "CheckpointError",
    "ConvergenceWarning",
    "DivergenceError",
    "InvalidParameterError",
    "NotFittedError",
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
