"""argparse ``type=`` checks shared by the sub-commands: a bad value is a usage error (exit 2)
that names the flag, then says what it must be in theta's one sentence
(:func:`theta.validation.violation`), e.g.
``argument --top-k: must be an int in the range [1, inf). Got 0 instead.``"""

from __future__ import annotations

import argparse
import numbers

from theta.validation import Interval, violation

__all__ = ["count", "positive_float", "positive_int"]


def count(text: str) -> int:
    """An integer >= 0."""
    return _number(text, int, Interval(numbers.Integral, 0, None))


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _number(text, int, Interval(numbers.Integral, 1, None))


def positive_float(text: str) -> float:
    """A number > 0 (NaN refused)."""
    return _number(text, float, Interval(numbers.Real, 0, None, closed="neither"))


def _number(text: str, kind: type, allowed: Interval) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = text  # not a number at all: the sentence shows the text as given
    why = violation(value, allowed)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return value
