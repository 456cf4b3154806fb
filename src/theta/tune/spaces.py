"""Search spaces: grids of values, distributions to sample from, and their checks.

A space maps hyperparameter names (``get_params(deep=True)`` keys, ``"C"`` or
``"index__ef_search"``) to a list of values or to a distribution. Every check here runs before
any trial, so a typo in a name or an impossible range fails in milliseconds, not after an hour
of trials.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import numbers
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theta.rng import check_random_state
from theta.validation import Interval, check_param

__all__ = [
    "Choice",
    "Distribution",
    "IntUniform",
    "LogUniform",
    "ParameterGrid",
    "ParameterSampler",
    "Uniform",
    "check_param_names",
]


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class Distribution:
    """A distribution of one hyperparameter's values; ``sample(rng)`` draws one.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.tune import Distribution, LogUniform
    >>> alpha = LogUniform(1e-3, 1e1)
    >>> value = alpha.sample(np.random.default_rng(0))
    >>> isinstance(alpha, Distribution), 1e-3 <= value <= 1e1
    (True, True)
    """

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def __theta_state__(self) -> dict[str, Any]:
        """The fields, for ``theta.io`` (a search's space is saved with it)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def __theta_restore__(cls, state: dict[str, Any]) -> Distribution:
        return cls(**state)  # __post_init__ checks the bounds; theta.io names the file


@dataclass(frozen=True)
class Uniform(Distribution):
    """Real numbers uniform in ``[low, high]``.

    Examples
    --------
    >>> 0.1 <= Uniform(0.1, 0.9).sample(np.random.default_rng(0)) <= 0.9
    True
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        _check_bounds(self, _real, "finite numbers")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class LogUniform(Distribution):
    """Positive numbers whose logarithm is uniform: each decade of ``[low, high]`` is as likely
    as any other (learning rates, regularisation strengths).

    Examples
    --------
    >>> LogUniform(0, 1)
    Traceback (most recent call last):
    ...
    ValueError: LogUniform(low=0, high=1): low must be > 0 for a log scale.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        _check_bounds(self, _real, "finite numbers")
        if self.low <= 0:
            raise ValueError(f"{self!r}: low must be > 0 for a log scale.")

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class IntUniform(Distribution):
    """Integers uniform in ``low, low + 1, ..., high`` (both ends included).

    Examples
    --------
    >>> IntUniform(5, 1)
    Traceback (most recent call last):
    ...
    ValueError: IntUniform(low=5, high=1): low must be <= high.
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        _check_bounds(
            self, lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool), "integers"
        )

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``options``, each equally likely.

    Examples
    --------
    >>> Choice(["brute", "hnsw"]).sample(np.random.default_rng(0)) in ("brute", "hnsw")
    True
    """

    options: tuple

    def __init__(self, options: Sequence[Any]) -> None:
        if isinstance(options, str) or not isinstance(options, Sequence | np.ndarray):
            raise TypeError(f"Choice: options must be a list of values; got {options!r}.")
        if len(options) == 0:
            raise ValueError("Choice: options is empty; give at least one value.")
        object.__setattr__(self, "options", tuple(options))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]


def _check_bounds(dist: Any, ok: Any, what: str) -> None:
    if not (ok(dist.low) and ok(dist.high)):
        raise TypeError(f"{dist!r}: low and high must be {what}.")
    if dist.low > dist.high:
        raise ValueError(f"{dist!r}: low must be <= high.")


# --- grids and samplers -------------------------------------------------------------------


def _as_list(space: Any, what: str) -> list[Mapping[str, Any]]:
    """A space (one mapping or a list of them) as a non-empty list of non-empty mappings."""
    spaces = [space] if isinstance(space, Mapping) else space
    if not isinstance(spaces, list | tuple) or not all(isinstance(s, Mapping) for s in spaces):
        raise TypeError(f"{what} must be a dict or a list of dicts; got {space!r}.")
    if not spaces or any(len(s) == 0 for s in spaces):
        raise ValueError(
            f"{what} is empty; give each searched parameter's values, e.g. {{'C': [0.1, 1, 10]}}."
        )
    return list(spaces)


def _check_values(name: str, values: Any, what: str) -> list[Any]:
    if not isinstance(name, str):
        raise TypeError(f"{what}: parameter names must be strings; got {name!r}.")
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(
            f"{what}: the values of {name!r} must be a list (or a distribution for random "
            f"search); got {type(values).__name__} {values!r}. Write {name!r}: [{values!r}] for "
            "a single value."
        )
    if len(values) == 0:
        raise ValueError(f"{what}: the list of values of {name!r} is empty.")
    return list(values)


class ParameterGrid:
    """Every combination of the listed values (scikit-learn's ``ParameterGrid`` order: names
    sorted, the last name varying fastest; a list of grids is visited grid after grid).

    Examples
    --------
    >>> list(ParameterGrid({"b": [1, 2], "a": ["x"]}))
    [{'a': 'x', 'b': 1}, {'a': 'x', 'b': 2}]
    >>> ParameterGrid({"C": []})
    Traceback (most recent call last):
    ...
    ValueError: param_grid: the list of values of 'C' is empty.
    """

    def __init__(self, param_grid: Any, *, what: str = "param_grid") -> None:
        self.param_grid = [
            {k: _check_values(k, v, what) for k, v in sorted(grid.items())}
            for grid in _as_list(param_grid, what)
        ]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for grid in self.param_grid:
            keys = list(grid)
            for values in itertools.product(*grid.values()):
                yield dict(zip(keys, values, strict=True))

    def __len__(self) -> int:
        return sum(math.prod(len(v) for v in grid.values()) for grid in self.param_grid)

    def names(self) -> set[str]:
        return {k for grid in self.param_grid for k in grid}


class ParameterSampler:
    """``n_iter`` candidates drawn from distributions and lists (lists: uniformly).

    When every value is a list, candidates are drawn from the grid without replacement (all of
    it, with a warning, if it has fewer than ``n_iter`` points), as scikit-learn does.

    Examples
    --------
    >>> space = {"C": LogUniform(1e-2, 1e2), "kernel": ["a", "b"]}
    >>> draws = list(ParameterSampler(space, 3, random_state=0))
    >>> len(draws), sorted(draws[0])
    (3, ['C', 'kernel'])
    >>> draws == list(ParameterSampler(space, 3, random_state=0))
    True
    """

    def __init__(
        self,
        param_distributions: Any,
        n_iter: int,
        *,
        random_state: Any = None,
        what: str = "param_distributions",
    ) -> None:
        check_param(n_iter, "n_iter", Interval(numbers.Integral, 1, None), caller=self)
        self.spaces = [
            {
                k: v if isinstance(v, Distribution) else _check_values(k, v, what)
                for k, v in sorted(space.items())
            }
            for space in _as_list(param_distributions, what)
        ]
        self.n_iter = int(n_iter)
        self.random_state = random_state

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = check_random_state(self.random_state)
        all_lists = not any(isinstance(v, Distribution) for s in self.spaces for v in s.values())
        if all_lists:
            grid = ParameterGrid(self.spaces)
            n = len(grid)
            if n < self.n_iter:
                warnings.warn(
                    f"The total space of parameters {n} is smaller than n_iter={self.n_iter}. "
                    f"Running {n} iterations.",
                    UserWarning,
                    stacklevel=2,
                )
            points = list(grid)
            for i in rng.choice(n, size=min(n, self.n_iter), replace=False):
                yield points[int(i)]
            return
        for _ in range(self.n_iter):
            space = self.spaces[int(rng.integers(len(self.spaces)))]
            yield {
                k: v.sample(rng) if isinstance(v, Distribution) else v[int(rng.integers(len(v)))]
                for k, v in space.items()
            }

    def __len__(self) -> int:
        if any(isinstance(v, Distribution) for s in self.spaces for v in s.values()):
            return self.n_iter
        return min(self.n_iter, len(ParameterGrid(self.spaces)))

    def names(self) -> set[str]:
        return {k for space in self.spaces for k in space}


def check_param_names(estimator: Any, names: set[str], *, extra: Sequence[str] = ()) -> None:
    """Raise ``ValueError`` if a searched name is not one of ``estimator``'s hyperparameters.

    ``extra`` names are accepted too (a budget such as ``total_steps`` that is not a
    constructor argument). The message lists the valid names and the closest one.

    Examples
    --------
    >>> from theta.estimators import Ridge
    >>> check_param_names(Ridge(), {"alpah"})
    Traceback (most recent call last):
    ...
    ValueError: Invalid parameter 'alpah' for estimator Ridge. Did you mean 'alpha'? Valid \
parameters are: ['alpha', 'fit_intercept'].
    """
    valid = sorted(set(estimator.get_params(deep=True)) | set(extra))
    for name in sorted(names):
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Invalid parameter {name!r} for estimator {type(estimator).__name__}.{hint} "
                f"Valid parameters are: {valid!r}."
            )
