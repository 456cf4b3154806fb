"""L0: random generators and the shared array checks."""

import numbers

import numpy as np
import pytest

from theta.errors import InvalidParameterError
from theta.rng import check_random_state
from theta.validation import (
    Each,
    Interval,
    Options,
    check_array,
    check_consistent_length,
    check_param,
    check_scalar,
    check_X_y,
    feature_names,
    validate_params,
    violation,
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
    with pytest.raises(ValueError) as bad_value:
        check_scalar(-1.0, "lr", float, min_val=0, include_boundaries="neither", caller="SGD")
    assert str(bad_value.value) == (
        "The 'lr' parameter of SGD must be a float in the range (0, inf). Got -1.0 instead."
    )
    with pytest.raises(TypeError) as bad_type:
        check_scalar("abc", "max_iter", int)
    assert str(bad_type.value) == (
        "The 'max_iter' parameter must be an int in the range (-inf, inf). Got 'abc' instead."
    )
    assert check_scalar(3, "max_iter", int, min_val=1) == 3


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("nan")])
def test_check_scalar_refuses_nan_whatever_the_range(nan):
    with pytest.raises(ValueError, match=r"The 'p' parameter must be a float in the range "
                       r"\(-inf, inf\)\. Got (np\.float\d+\()?nan\)? instead\."):  # fmt: skip
        check_scalar(nan, "p", float | np.floating)


@pytest.mark.parametrize(
    "value, constraints, sentence",
    [
        (-1.0, [Interval(numbers.Real, 0, None)], "must be a float in the range [0, inf)"),
        (0, [Interval(numbers.Integral, 1, None)], "must be an int in the range [1, inf)"),
        (1.5, [Interval(numbers.Real, 0.0, 1.0, closed="neither")],
         "must be a float in the range (0.0, 1.0)"),
        (1, [Interval(numbers.Real, 0, 1, closed="left")], "must be a float in the range [0, 1)"),
        (True, [Interval(numbers.Integral, 0, None)], "must be an int in the range [0, inf)"),
        ("swish", [Options({"relu", "tanh"})], "must be a str among {'relu', 'tanh'}"),
        (3, [Options({1, 2})], "must be one of {1, 2}"),
        ((3, 0), [Interval(numbers.Integral, 1, None), Each(Interval(numbers.Integral, 1, None))],
         "must be an int in the range [1, inf) or a tuple of ints in the range [1, inf)"),
        ("yes", ["boolean"], "must be an instance of 'bool'"),
        (True, [numbers.Real, str, None],
         "must be an instance of 'float', an instance of 'str' or None"),
        (-1, ["random_state"], "must be an int, a numpy.random.Generator or None"),
    ],
)  # fmt: skip
def test_one_sentence_for_every_kind_of_constraint(value, constraints, sentence):
    expected = f"{sentence}. Got {value!r} instead."
    assert violation(value, constraints) == expected
    with pytest.raises(InvalidParameterError) as err:
        check_param(value, "x", constraints, caller="Owner")
    assert str(err.value) == f"The 'x' parameter of Owner {expected}"
    assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)


def test_intervals_refuse_nan_and_bools_and_keep_their_closedness():
    unit = Interval(numbers.Real, 0, 1, closed="right")
    assert [unit.accepts(v) for v in (0, 0.5, 1, 1.0 + 1e-12, np.nan, True)] == [
        False, True, True, False, False, False,
    ]  # fmt: skip
    anything = Interval(numbers.Real, None, None)
    assert anything.accepts(np.inf) and anything.accepts(np.float32(-3))
    assert not anything.accepts(np.float32("nan")) and not anything.accepts(np.bool_(True))
    sizes = Each(Interval(numbers.Integral, 1, None))
    assert sizes.accepts((3, 4)) and sizes.accepts([]) and sizes.accepts(np.array([2, 5]))
    assert not sizes.accepts(np.ones((2, 2), dtype=int)) and not sizes.accepts("12")
    assert violation(None, [Interval(numbers.Integral, 1, None), None]) is None


def test_validate_params_names_the_owner_class_and_the_first_bad_attribute():
    class Model:
        alpha, n = -1.0, 0

    with pytest.raises(InvalidParameterError) as err:
        validate_params(Model(), {"alpha": [Interval(numbers.Real, 0, None)],
                                  "n": [Interval(numbers.Integral, 1, None)]})  # fmt: skip
    assert str(err.value) == (
        "The 'alpha' parameter of Model must be a float in the range [0, inf). "
        "Got -1.0 instead."
    )
    with pytest.raises(InvalidParameterError, match="The 'n' parameter of Model must be"):
        check_param(0, "n", Interval(numbers.Integral, 1, None), caller=Model)  # a class


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
