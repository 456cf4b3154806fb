"""Turn whatever the caller passed as a seed into a ``numpy.random.Generator``.

All randomness in theta flows from generators built here, so the same seed gives the same
run, bit for bit, and nothing touches NumPy's legacy global state.
"""

import numbers

import numpy as np

__all__ = ["check_random_state"]


def check_random_state(seed: None | int | np.random.Generator) -> np.random.Generator:
    """Return a Generator for ``seed``.

    Parameters
    ----------
    seed : None, int or numpy.random.Generator
        ``None`` gives a freshly seeded generator from OS entropy, an int seeds a new one, and
        a Generator is returned unchanged so that callers can share one stream.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``seed`` is of any other type.

    Examples
    --------
    >>> a = check_random_state(0).random()
    >>> b = check_random_state(0).random()
    >>> a == b
    True
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"check_random_state: seed must be non-negative (got {seed}).")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"check_random_state: seed must be None, an int or a numpy.random.Generator "
        f"(got {type(seed).__name__})."
    )
