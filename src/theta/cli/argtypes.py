"""What the sub-commands share about their flags: ``type=`` checks, the usage-error type and
the help formatter.

A bad value is a usage error (exit 2) that names the flag, then says what it must be in
theta's one sentence (:func:`theta.validation.violation`), e.g.
``argument --top-k: must be an int in the range [1, inf). Got 0 instead.``
"""

from __future__ import annotations

import argparse
import numbers
import textwrap

from theta.validation import Interval, violation

__all__ = ["HelpFormatter", "UsageError", "batch_size", "count", "is_number_text",
           "positive_float", "positive_int", "sizes"]  # fmt: skip


class UsageError(ValueError):
    """A mistake in how a command was called (a missing input, flags that do not go together):
    ``theta`` prints the command's usage line and the message, and exits 2, as argparse does
    for the mistakes it finds itself. Start the message with the flag, e.g.
    ``"argument --prompt: must not be empty; the model continues a text"``."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help line ends with its default and, when the option names a fixed set
    of values but shows a metavar instead of ``{a,b}``, its choices. Descriptions are wrapped
    to the terminal; an epilog's indented example lines are kept as written.

    A default of None is left unsaid: it means "decided later" (by a preset or another flag),
    which only the help text itself can explain. Switches (``--quiet``) are off by default.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Wrap each line of a description to the terminal, but keep indented lines (the
        examples of an epilog) as they are written."""
        lines = text.splitlines()
        return "\n".join(line if line.startswith(" ") or not line
                         else textwrap.fill(line, width, initial_indent=indent,
                                            subsequent_indent=indent)
                         for line in lines)  # fmt: skip

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if text is argparse.SUPPRESS or action.nargs == 0:
            return text
        notes = []
        if action.choices is not None and action.metavar is not None:
            notes.append("choices: " + ", ".join(map(str, action.choices)))
        shown = action.default not in (None, argparse.SUPPRESS, [])
        if shown and "default" not in text and action.option_strings:
            notes.append("default: %(default)s")
        return f"{text} ({'; '.join(notes)})" if notes else text


def count(text: str) -> int:
    """An integer >= 0."""
    return _number(text, int, Interval(numbers.Integral, 0, None))


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _number(text, int, Interval(numbers.Integral, 1, None))


def positive_float(text: str) -> float:
    """A number > 0 (NaN refused)."""
    return _number(text, float, Interval(numbers.Real, 0, None, closed="neither"))


def batch_size(text: str) -> int:
    """Samples per step: an integer >= 0, or ``full`` (0: every sample in every step)."""
    return 0 if text.strip().lower() == "full" else count(text)


def sizes(text: str) -> tuple[int, ...]:
    """Layer sizes separated by commas, such as ``64,32``; an empty size (``32,,4``) is
    refused rather than skipped, since it is more likely a typo than a wish. Their range is
    the config's to check (``hidden`` and ``channels`` in a TOML file too)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 64,64: whole numbers separated by commas, none empty "
            f"(got {text!r})"
        ) from None


def _number(text: str, kind: type, allowed: Interval) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = text  # not a number at all: the sentence shows the text as given
    why = violation(value, allowed)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return value


def is_number_text(text: str) -> bool:
    """Whether ``text`` reads as a number (a CSV cell, a header that is really data)."""
    try:
        float(text)
    except ValueError:
        return False
    return True

