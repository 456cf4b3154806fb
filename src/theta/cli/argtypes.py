"""argparse ``type=`` checks shared by the sub-commands: a bad value is a usage error (exit 2)
that names the flag, the rule and the value, e.g. ``argument --top-k: must be >= 1 (got 0)``."""

from __future__ import annotations

import argparse

__all__ = ["count", "positive_float", "positive_int"]


def count(text: str) -> int:
    """An integer >= 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def positive_float(text: str) -> float:
    """A number > 0 (NaN refused)."""
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {value})")
    return value


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} (got {text!r})") from None
