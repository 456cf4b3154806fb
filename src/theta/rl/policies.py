"""Exploration: ε schedules as pure functions of the step, and action choice from values.

A schedule is a function ``step -> value``, like the learning-rate schedules of
``theta.optim``, so an agent at step ``t`` always explores by the same amount however it got
there (and a resumed or re-run agent explores identically). ``epsilon_greedy`` and
``boltzmann`` pick one action from a vector of action values with an explicit generator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "SCHEDULES", "boltzmann", "constant", "epsilon_greedy", "exponential_decay", "greedy",
    "linear_decay", "make_schedule",
]  # fmt: skip

Schedule = Callable[[int], float]


def constant(step: int, start: float, end: float = 0.0, n_steps: int = 1) -> float:
    """``start`` at every step (``end`` and ``n_steps`` are ignored).

    Examples
    --------
    >>> constant(10_000, 0.1)
    0.1
    """
    return float(start)


def linear_decay(step: int, start: float, end: float, n_steps: int) -> float:
    """From ``start`` at step 0 in a straight line to ``end`` at ``n_steps``, then ``end``.

    Examples
    --------
    >>> [linear_decay(t, 1.0, 0.1, 10) for t in (0, 5, 10, 20)]
    [1.0, 0.55, 0.1, 0.1]
    """
    if step >= n_steps:
        return float(end)
    return float(start + step / n_steps * (end - start))


def exponential_decay(step: int, start: float, end: float, n_steps: int) -> float:
    """``end + (start - end) * exp(-step / n_steps)``: the distance to ``end`` shrinks by a
    factor e every ``n_steps`` steps.

    Examples
    --------
    >>> round(exponential_decay(100, 1.0, 0.0, 100), 4)
    0.3679
    """
    return float(end + (start - end) * math.exp(-step / n_steps))


SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "linear": linear_decay,
    "exponential": exponential_decay,
}
"""The schedule functions by name, ``(step, start, end, n_steps) -> value``; see
:func:`make_schedule`."""


def make_schedule(kind: str, start: float, end: float, n_steps: int) -> Schedule:
    """The schedule ``step -> value`` called ``kind`` ("constant", "linear", "exponential").

    Examples
    --------
    >>> eps = make_schedule("linear", 1.0, 0.05, 1000)
    >>> eps(0), eps(500), eps(2000)
    (1.0, 0.525, 0.05)
    """
    if kind not in SCHEDULES:
        raise ValueError(
            f"make_schedule: unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}."
        )
    return functools.partial(SCHEDULES[kind], start=start, end=end, n_steps=n_steps)


def greedy(values: np.ndarray, rng: np.random.Generator | None = None) -> int:
    """The index of the largest value; ties go to a random one if ``rng`` is given, else to
    the first (deterministic, as ``np.argmax``).

    Examples
    --------
    >>> import numpy as np
    >>> greedy(np.array([0.0, 2.0, 2.0]))
    1
    """
    if rng is None:
        return int(np.argmax(values))
    best = np.flatnonzero(values == values.max())
    return int(best[0]) if len(best) == 1 else int(best[rng.integers(len(best))])


def epsilon_greedy(values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """With probability ``epsilon`` a uniformly random action, else a greedy one (random ties).

    Examples
    --------
    >>> import numpy as np
    >>> epsilon_greedy(np.array([0.0, 1.0]), 0.0, np.random.default_rng(0))
    1
    """
    if epsilon > 0 and rng.random() < epsilon:
        return int(rng.integers(len(values)))
    return greedy(values, rng)


def boltzmann(values: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Sample action ``a`` with probability proportional to ``exp(values[a] / temperature)``.

    Examples
    --------
    >>> import numpy as np
    >>> boltzmann(np.array([0.0, 50.0]), 1.0, np.random.default_rng(0))
    1
    """
    if not temperature > 0:
        raise ValueError(f"boltzmann: temperature must be > 0 (got {temperature}).")
    z = (values - values.max()) / temperature  # shifted, so exp never overflows
    p = np.exp(z)
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(p) - 1))
