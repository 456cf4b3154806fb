"""Fixtures of the training-loop tests: the chapter's line and a small classification task."""

import numpy as np
import pytest

from theta.nn import Linear


@pytest.fixture
def line() -> tuple[np.ndarray, np.ndarray]:
    """The chapter's data: x = 0..4 and y = 2x + 1, as float64 columns."""
    X = np.arange(5.0).reshape(-1, 1)
    return X, 2 * X + 1


@pytest.fixture
def chapter_model():
    """A factory of the chapter's model: ``pred = w*x + b`` in float64, from w = b = 0."""

    def make() -> Linear:
        model = Linear(1, 1, dtype=np.float64)
        model.load_state_dict({"weight": np.zeros((1, 1)), "bias": np.zeros(1)})
        return model

    return make


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """60 samples, 4 features, 3 classes: enough for minibatches that do not divide evenly."""
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 20)
    X = rng.normal(size=(60, 4)) + 1.5 * np.eye(3, 4)[y]
    return X, y
