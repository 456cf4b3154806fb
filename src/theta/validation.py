"""Array and parameter checks shared by every layer above, worded as scikit-learn words them.

These run at the boundary (``fit``, ``predict``, constructors), never on hot internal paths.
"""

import functools
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from theta.errors import DataConversionWarning, InvalidParameterError, sklearn_twin

__all__ = [
    "Each", "Interval", "Options", "check_array", "check_consistent_length", "check_X_y",
    "check_param", "check_sample_weight", "check_scalar", "column_or_1d", "feature_names",
    "broadcasts_to", "int_tuple",
    "moved_keywords", "validate_params", "violation",
]  # fmt: skip


def _name_of(caller: object | None) -> str:
    if caller is None:
        return ""
    if isinstance(caller, str):
        return caller
    return caller.__name__ if isinstance(caller, type) else type(caller).__name__


def check_array(
    array: object,
    *,
    ensure_2d: bool = True,
    allow_nd: bool = False,
    dtype: str | type | None = "numeric",
    ensure_all_finite: bool = True,
    ensure_min_samples: int = 1,
    ensure_min_features: int = 1,
    input_name: str = "X",
    caller: object | None = None,
) -> np.ndarray:
    """Convert ``array`` to a float ndarray and reject what no estimator can use.

    Parameters
    ----------
    array : array-like
        The input.
    ensure_2d : bool, default=True
        Require shape ``(n_samples, n_features)``; 1-D input gets the "Reshape your data" hint.
    allow_nd : bool, default=False
        Accept more than two dimensions.
    dtype : "numeric", numpy dtype or None, default="numeric"
        ``"numeric"`` keeps float32/float64 and casts integer and bool data to float64.
    ensure_all_finite : bool, default=True
        Reject NaN and infinity.
    ensure_min_samples, ensure_min_features : int, default=1
        Smallest accepted sizes of the first and second axes.
    input_name : str, default="X"
        Name used in messages.
    caller : object or str, optional
        The estimator (or its name) to mention in messages.

    Returns
    -------
    ndarray
        The validated array; a view of the input when no conversion was needed.

    Raises
    ------
    ValueError
        On complex, string or object data, wrong dimensionality, too few samples or features,
        or non-finite values.

    Examples
    --------
    >>> check_array([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    name = _name_of(caller)
    if hasattr(array, "tocsr"):  # a SciPy sparse matrix or array, recognised without SciPy
        raise TypeError(
            f"Sparse data was passed for {input_name}, but dense data is required. Use "
            "'.toarray()' to convert to a dense numpy array."
        )
    arr = np.asarray(array)
    if np.iscomplexobj(arr):
        raise ValueError(f"Complex data not supported\n{arr}\n")
    if dtype == "numeric":
        if arr.dtype.kind in "USV":
            raise ValueError(
                "dtype='numeric' is not compatible with arrays of bytes/strings."
                "Convert your data to numeric values explicitly instead."
            )
        if arr.dtype.kind == "O":
            arr = arr.astype(np.float64)  # float()'s own TypeError/ValueError names the value
        elif arr.dtype.kind not in "f":
            arr = arr.astype(np.float64)
    elif dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if ensure_2d:
        if arr.ndim == 0:
            raise ValueError(
                f"Expected 2D array, got scalar array instead:\narray={arr}.\n"
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if arr.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead:\narray={arr}.\n"
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if arr.ndim > 2 and not allow_nd:
            raise ValueError(f"Found array with dim {arr.ndim}. {name} expected <= 2.".strip())
    n_samples = arr.shape[0] if arr.ndim else 1
    if ensure_min_samples > 0 and n_samples < ensure_min_samples:
        by = f" by {name}" if name else ""
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={arr.shape}) while a minimum of "
            f"{ensure_min_samples} is required{by}."
        )
    if ensure_2d and ensure_min_features > 0 and arr.shape[1] < ensure_min_features:
        by = f" by {name}" if name else ""
        raise ValueError(
            f"Found array with {arr.shape[1]} feature(s) (shape={arr.shape}) while a minimum "
            f"of {ensure_min_features} is required{by}."
        )
    if ensure_all_finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        what = (
            "NaN" if np.isnan(arr).any() else "infinity or a value too large for " + str(arr.dtype)
        )
        raise ValueError(f"Input {input_name} contains {what}.")
    return arr


def feature_names(X: object) -> np.ndarray | None:
    """The column names of a DataFrame ``X`` when all are strings, else ``None``.

    A DataFrame is recognised by its ``columns`` attribute (pandas, polars), so theta never
    imports a DataFrame library. Names that are not strings (pandas' default ``0, 1, ...``)
    are not names to check, as in scikit-learn.

    Parameters
    ----------
    X : object
        The input, DataFrame or not.

    Returns
    -------
    ndarray of str objects, or None

    Raises
    ------
    TypeError
        If some column names are strings and others are not.

    Examples
    --------
    >>> feature_names([[1.0, 2.0]]) is None
    True
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.fromiter(columns, dtype=object, count=len(columns))
    types = sorted({type(name).__qualname__ for name in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. If you want "
            "feature names to be stored and validated, you must convert them all to strings, "
            "by using X.columns = X.columns.astype(str) for example. Otherwise you can remove "
            "feature / column names from your input data, or convert them all to a non-string "
            "data type."
        )
    return names if types == ["str"] else None


def check_consistent_length(*arrays: object) -> None:
    """Raise if the arrays (those not ``None``) differ in their number of samples.

    Examples
    --------
    >>> check_consistent_length([1, 2], [3, 4])
    """
    lengths = [len(a) for a in arrays if a is not None]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")


def check_X_y(
    X: object, y: object, *, y_numeric: bool = False, caller: object | None = None, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a feature matrix and its targets together.

    ``y`` must be 1-D (or 2-D for multi-output), finite, and as long as ``X``; with
    ``y_numeric`` it is cast to float64. Extra keyword arguments go to :func:`check_array`.

    Examples
    --------
    >>> X, y = check_X_y([[0.0], [1.0]], [0, 1])
    >>> X.shape, y.shape
    ((2, 1), (2,))
    """
    if y is None:
        raise ValueError(
            f"{_name_of(caller) or 'This estimator'} requires y to be passed, but "
            "the target y is None."
        )
    X = check_array(X, caller=caller, **kwargs)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y)
    if y.ndim == 0 or y.ndim > 2:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y_numeric and y.dtype.kind not in "f":
        y = y.astype(np.float64)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            "Input y contains NaN."
            if np.isnan(y).any()
            else "Input y contains infinity or a value too large for " + str(y.dtype) + "."
        )
    check_consistent_length(X, y)
    return X, y


def column_or_1d(y: np.ndarray, *, warn: bool = True) -> np.ndarray:
    """Ravel a column-vector ``y`` of shape (n, 1), with scikit-learn's DataConversionWarning."""
    if y.ndim == 2 and y.shape[1] == 1:
        if warn:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples, ), for example using ravel().",
                sklearn_twin(DataConversionWarning),
                stacklevel=3,
            )
        return y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    return y


# --- parameter constraints: one rule, one sentence ------------------------------------------
#
# Every hyperparameter check in theta (layers, optimizers, schedules, estimators, agents,
# searches, batching, both CLI config readers and the CLI's flags) goes through
# :func:`violation`, so every refusal reads as scikit-learn's ``InvalidParameterError`` does:
# "The 'alpha' parameter of Ridge must be a float in the range [0, inf). Got -1.0 instead."


def _type_name(t: type) -> str:
    """scikit-learn's names: ``numbers.Real`` is 'float', ``numbers.Integral`` 'int'."""
    if t.__module__ == "builtins":
        return t.__qualname__
    return {"Real": "float", "Integral": "int"}.get(t.__qualname__, t.__qualname__)


def _integral(kind: object) -> bool:
    """Whether every type of ``kind`` (a type, a union or a tuple of types) is an integer type."""
    kinds = getattr(kind, "__args__", kind)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return all(isinstance(k, type) and issubclass(k, numbers.Integral) for k in kinds)


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` in a range; NaN is never in one, and bool is never a number.

    Parameters
    ----------
    kind : type, union or tuple of types
        ``numbers.Integral`` ("an int") or ``numbers.Real`` ("a float", ints accepted), or any
        ``isinstance`` target such as ``float | np.floating``.
    left, right : float or None
        Bounds; ``None`` leaves that side open (infinite values accepted there).
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.

    Examples
    --------
    >>> str(Interval(numbers.Real, 0, 1, closed="left"))
    'a float in the range [0, 1)'
    >>> Interval(numbers.Integral, 1, None).accepts(0)
    False
    """

    kind: Any
    left: float | None
    right: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool | np.bool_) or not isinstance(value, self.kind):
            return False
        if value != value:  # NaN, of any float type: no comparison below would refuse it
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        return ("an int" if _integral(self.kind) else "a float") + self._range()

    def plural(self) -> str:
        """The description of several such numbers: "ints in the range [1, inf)"."""
        return ("ints" if _integral(self.kind) else "floats") + self._range()

    def _range(self) -> str:
        lo = "-inf" if self.left is None else str(self.left)  # as given: 0 or 0.0, as sklearn
        hi = "inf" if self.right is None else str(self.right)
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f" in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values ("a str among {'auto', 'full'}").

    Examples
    --------
    >>> from theta.validation import Options
    >>> solver = Options(["auto", "svd"])
    >>> str(solver)
    "a str among {'auto', 'svd'}"
    >>> solver.accepts("svd"), solver.accepts("lbfgs")
    (True, False)
    """

    values: frozenset

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # an unhashable value is none of the options
            return False

    def __str__(self) -> str:
        shown = ", ".join(repr(v) for v in sorted(self.values, key=str))
        kind = "a str among" if all(isinstance(v, str) for v in self.values) else "one of"
        return f"{kind} {{{shown}}}"


@dataclass(frozen=True)
class Each:
    """A list, tuple or 1-D array whose every element ``item`` accepts (layer sizes).

    Examples
    --------
    >>> str(Each(Interval(numbers.Integral, 1, None)))
    'a tuple of ints in the range [1, inf)'
    """

    item: Interval

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, list | tuple | np.ndarray) or np.ndim(value) != 1:
            return False
        return all(self.item.accepts(v) for v in value)

    def __str__(self) -> str:
        return f"a tuple of {self.item.plural()}"


_NAMED = {
    "boolean": (lambda v: isinstance(v, bool | np.bool_), "an instance of 'bool'"),
    "random_state": (
        lambda v: v is None or isinstance(v, np.random.Generator)
        or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0),
        "an int, a numpy.random.Generator or None",
    ),
    "callable": (callable, "a callable"),
    None: (lambda v: v is None, "None"),
}  # fmt: skip

Constraint = Interval | Options | Each | type | str | None


def _accepts(constraint: Constraint, value: Any) -> bool:
    if isinstance(constraint, Interval | Options | Each):
        return constraint.accepts(value)
    if isinstance(constraint, type):
        return isinstance(value, constraint) and not (
            constraint is not bool and isinstance(value, bool)
        )
    return _NAMED[constraint][0](value)


def _describe(constraint: Constraint) -> str:
    if isinstance(constraint, Interval | Options | Each):
        return str(constraint)
    if isinstance(constraint, type):
        return f"an instance of {_type_name(constraint)!r}"
    return _NAMED[constraint][1]


def violation(value: object, constraints: Constraint | list[Constraint]) -> str | None:
    """``None`` if one of ``constraints`` accepts ``value``, else the sentence's predicate.

    The predicate ("must be an int in the range [1, inf). Got 0 instead.") follows a subject:
    "The 'n' parameter of KMeans" (:func:`check_param`), or the CLI's "argument --top-k:" and
    "config key 'block_size':".

    Parameters
    ----------
    value : object
        The value to check.
    constraints : constraint or list of constraints
        Accepted kinds of value: :class:`Interval`, :class:`Options`, :class:`Each`, a type
        (bool is never an instance of a number type), ``"boolean"``, ``"random_state"``,
        ``"callable"`` or ``None``.

    Returns
    -------
    str or None

    Examples
    --------
    >>> violation(0, Interval(numbers.Integral, 1, None))
    'must be an int in the range [1, inf). Got 0 instead.'
    >>> violation(3, [Interval(numbers.Integral, 1, None), None]) is None
    True
    """
    constraints = constraints if isinstance(constraints, list) else [constraints]
    if any(_accepts(c, value) for c in constraints):
        return None
    allowed = [_describe(c) for c in constraints]
    text = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
    return f"must be {text}. Got {value!r} instead."


def check_param(
    value: object,
    name: str,
    constraints: Constraint | list[Constraint],
    *,
    caller: object | None = None,
) -> Any:
    """Return ``value`` if one of ``constraints`` accepts it, else raise scikit-learn's sentence.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name.
    constraints : constraint or list of constraints
        As for :func:`violation`.
    caller : object or str, optional
        The object (or its name: a class, a function) the parameter belongs to.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    InvalidParameterError
        A subclass of both ValueError and TypeError, whatever was wrong.

    Examples
    --------
    >>> check_param(-1.0, "alpha", Interval(numbers.Real, 0, None), caller="Ridge")
    Traceback (most recent call last):
    ...
    theta.errors.InvalidParameterError: The 'alpha' parameter of Ridge must be a float in the \
range [0, inf). Got -1.0 instead.
    """
    why = violation(value, constraints)
    if why is not None:
        of = f" of {_name_of(caller)}" if caller is not None else ""
        raise InvalidParameterError(f"The {name!r} parameter{of} {why}")
    return value


def validate_params(owner: object, constraints: Mapping[str, Any]) -> None:
    """Check each attribute ``name`` of ``owner`` against ``constraints[name]``.

    This is what estimators and agents run first in ``fit``/``learn`` with their
    ``_parameter_constraints``.

    Raises
    ------
    InvalidParameterError
        For the first attribute no constraint of its list accepts, naming ``owner``'s class.
    """
    for name, allowed in constraints.items():
        check_param(getattr(owner, name), name, allowed, caller=owner)


def check_scalar(
    value: object,
    name: str,
    target_type: type | tuple[type, ...],
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: str = "both",
    caller: object | None = None,
) -> Any:
    """Check a scalar hyperparameter's type and range: :func:`check_param` with an Interval.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in messages.
    target_type : type or tuple of types
        Accepted types (``numbers.Real`` for any real number; bool is never a number here).
    min_val, max_val : float, optional
        Bounds of the allowed range.
    include_boundaries : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.
    caller : object or str, optional
        What the parameter belongs to (a layer, a function), named in the message.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    InvalidParameterError
        A subclass of both TypeError and ValueError: for a wrong type, NaN, or a value outside
        the range.

    Examples
    --------
    >>> check_scalar(0.1, "lr", float, min_val=0, include_boundaries="neither")
    0.1
    >>> check_scalar(0.0, "lr", float, min_val=0, include_boundaries="neither", caller="SGD")
    Traceback (most recent call last):
    ...
    theta.errors.InvalidParameterError: The 'lr' parameter of SGD must be a float in the range \
(0, inf). Got 0.0 instead.
    """
    interval = Interval(target_type, min_val, max_val, closed=include_boundaries)
    return check_param(value, name, interval, caller=caller)


def check_sample_weight(
    sample_weight: object,
    n_samples: int,
    *,
    dtype: str | type | None = "numeric",
    ensure_non_negative: bool = False,
) -> np.ndarray:
    """Return per-sample weights as a 1-D array of length ``n_samples``, worded as scikit-learn.

    Parameters
    ----------
    sample_weight : None, number or array-like of shape (n_samples,)
        ``None`` gives ones, a number is repeated for every sample.
    n_samples : int
        Number of samples the weights belong to.
    dtype : "numeric", numpy dtype or None, default="numeric"
        As in :func:`check_array`; ``None`` keeps integer weights integer.
    ensure_non_negative : bool, default=False
        Reject negative weights.

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        On NaN or infinite weights, a wrong shape, all-zero weights, or (if asked) negative
        weights.

    Examples
    --------
    >>> check_sample_weight(None, 3)
    array([1., 1., 1.])
    >>> check_sample_weight([1, 2], 3)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight.shape == (2,), expected (3,)!
    """
    float_dtype = np.float64 if dtype in ("numeric", None) else dtype
    if sample_weight is None:
        return np.ones(n_samples, dtype=float_dtype)
    if isinstance(sample_weight, numbers.Number):
        weights = np.full(n_samples, sample_weight, dtype=float_dtype)
    else:
        weights = check_array(
            sample_weight, ensure_2d=False, dtype=dtype, input_name="sample_weight",
            ensure_min_samples=0,
        )  # fmt: skip
        if weights.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {weights.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n_samples}."
            )
        if weights.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!")
    if not np.isfinite(weights).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if np.all(weights == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if ensure_non_negative and np.any(weights < 0):
        raise ValueError("Negative values in data passed to `sample_weight`.")
    return weights


def moved_keywords(moved: Mapping[str, str]) -> Callable[[Callable], Callable]:
    """Decorate a function so a keyword it no longer takes raises a TypeError that says what
    replaced it (``moved`` maps the old keyword to the new spelling, as code to copy).

    Examples
    --------
    >>> @moved_keywords({"every": "callbacks=[ModelCheckpoint(path, every_n_steps=n)]"})
    ... def train(*, callbacks=()):
    ...     return list(callbacks)
    >>> train(every=5)
    Traceback (most recent call last):
    ...
    TypeError: train: every= is gone; write callbacks=[ModelCheckpoint(path, every_n_steps=n)]
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def checked(*args: Any, **kwargs: Any) -> Any:
            for key in kwargs:
                if key in moved:
                    raise TypeError(f"{func.__qualname__}: {key}= is gone; write {moved[key]}")
            return func(*args, **kwargs)

        return checked

    return decorate


def int_tuple(
    value: Any, n: int, name: str, caller: object, low: Interval | None = None
) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints (a kernel size, a stride) as a tuple of ``n`` ints,
    each in ``low`` (default: at least 1), as PyTorch's layers take them."""
    low = Interval(numbers.Integral, 1, None) if low is None else low
    check_param(value, name, [low, Each(low)], caller=caller)
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    if len(value) != n:
        raise ValueError(
            f"{_name_of(caller)}: {name} must be an int or a tuple of {n} ints "
            f"(got {tuple(value)})."
        )
    return tuple(int(v) for v in value)


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without growing it (a weight
    or a mask that rescales or masks each element of something of shape ``target``)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False

