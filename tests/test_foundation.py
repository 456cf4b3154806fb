"""L0: random generators and the shared array checks."""

import numpy as np
import pytest

from theta.rng import check_random_state
from theta.validation import (
    check_array,
    check_consistent_length,
    check_scalar,
    check_X_y,
    feature_names,
)


def test_check_random_state_same_seed_same_stream():
    assert check_random_state(3).random() == check_random_state(3).random()
    gen = np.random.default_rng(0)
    assert check_random_state(gen) is gen
    assert isinstance(check_random_state(None), np.random.Generator)


@pytest.mark.parametrize("bad", ["3", 1.5, True, [1]])
def test_check_random_state_rejects_other_types(bad):
    with pytest.raises(TypeError, match="seed"):
        check_random_state(bad)


def test_check_array_casts_integers_and_keeps_float32():
    assert check_array([[1, 2]]).dtype == np.float64
    assert check_array(np.ones((2, 2), np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "X, match",
    [
        ([1.0, 2.0], "Reshape your data"),
        (np.zeros((0, 3)), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"),
        (np.zeros((2, 0)), r"0 feature\(s\)"),
        ([[np.nan, 1.0]], "NaN"),
        ([[np.inf, 1.0]], "infinity"),
        ([["a", "b"]], "strings"),
        (np.array([[1 + 1j]]), "Complex data not supported"),
    ],
)
def test_check_array_rejects_what_no_estimator_can_use(X, match):
    with pytest.raises(ValueError, match=match):
        check_array(X)


def test_check_X_y_names_inconsistent_lengths():
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        check_X_y(np.zeros((3, 1)), [1, 2])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        check_X_y(np.zeros((2, 1)), [1.0, np.nan])
    check_consistent_length([1], None, [2])


def test_check_scalar_names_the_parameter_and_range():
    with pytest.raises(ValueError, match="lr == -1.0, must be > 0"):
        check_scalar(-1.0, "lr", float, min_val=0, include_boundaries="neither")
    with pytest.raises(TypeError, match="max_iter must be an instance of int, not str"):
        check_scalar("abc", "max_iter", int)


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("nan")])
def test_check_scalar_refuses_nan_whatever_the_range(nan):
    with pytest.raises(ValueError, match="p == nan, must be a number, not NaN"):
        check_scalar(nan, "p", float | np.floating)


def test_feature_names_are_string_column_names_only():
    class Frame:  # duck-typed: what theta reads of a pandas or polars DataFrame
        def __init__(self, columns):
            self.columns = columns

    assert feature_names(np.zeros((2, 2))) is None
    assert feature_names(Frame([0, 1])) is None
    names = feature_names(Frame(["a", "b"]))
    assert names.dtype == object and names.tolist() == ["a", "b"]
    with pytest.raises(TypeError, match=r"\['int', 'str'\] as feature name"):
        feature_names(Frame(["a", 1]))
