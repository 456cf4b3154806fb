"""The ``theta`` command: sub-commands mapped onto the library, with argparse's exit codes.

Exit codes: 0 success, 2 usage error (argparse's, or a :class:`UsageError` that a command
raises: the command's usage line and the reason), 1 failure with a one-line reason on stderr
(the traceback only with ``--debug``). Every option's help ends with its default and choices
(:class:`~theta.cli.argtypes.HelpFormatter`, set on every command here).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

from theta.cli import bench, datasets, embed, generate, listing, predict, report, rl, train, tune
from theta.cli.argtypes import HelpFormatter, UsageError

__all__ = ["main"]

EXAMPLES = """\
examples (one per command; `theta COMMAND --help` shows more):
  theta train                              the chapter's line, learned by gradient descent
  theta train --data iris --out runs/iris  an MLP on iris, written to a run folder
  theta predict runs/iris 5.1,3.5,1.4,0.2  inference with a trained run
  theta tune examples/tune_iris.toml       a hyperparameter search from one TOML file
  theta rl --env CliffWalking-v1 --agent q_learning
  theta generate runs/shakespeare --max-new-tokens 200
  theta embed "A cat sat on the mat."      sentence embeddings (all-MiniLM-L6-v2)
  theta search examples/faq.txt --query "reset my password"
  theta report runs/iris                   one HTML page with the run's pictures
  theta bench --quick                      theta against PyTorch and scikit-learn
  theta datasets                           the data sets shipped inside theta
  theta runs                               the run folders under runs/, newest first
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="theta",
        description="theta: a model is parameters plus a forward function. Train one, "
        "use it, tune it.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from theta import __version__

    parser.add_argument("--version", action="version", version=f"theta {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    train.add_parser(subparsers)
    predict.add_parser(subparsers)
    generate.add_parser(subparsers)
    rl.add_parser(subparsers)
    tune.add_parser(subparsers)
    embed.add_parsers(subparsers)
    datasets.add_parser(subparsers)
    bench.add_parser(subparsers)
    report.add_parser(subparsers)
    listing.add_parser(subparsers)
    for command in subparsers.choices.values():
        command.formatter_class = HelpFormatter
        # a prefix is a typo more often than a shorthand: --epoch is refused with a
        # suggestion rather than silently taken for --epochs
        command.allow_abbrev = False
    return parser


def command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of the sub-command ``name`` in ``parser`` (built by :func:`build_parser`)."""
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``theta`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not hasattr(args, "run"):
        parser.print_usage(sys.stderr)
        print("theta: error: choose a command (see theta --help)", file=sys.stderr)
        return 2
    command = command_parser(parser, args.command)
    if unknown:
        command.error(_unrecognized(unknown, command))  # exits 2
    try:
        return args.run(args, sys.stdout)
    except UsageError as exc:  # ConfigError included
        command.print_usage(sys.stderr)
        print(f"theta: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # a run that saved its work says where, and how to resume
        print(f"theta: {exc}" if str(exc) else "theta: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`); nothing left to say
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, not a traceback
        if args.debug:
            raise
        print(f"theta: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _unrecognized(unknown: list[str], command: argparse.ArgumentParser) -> str:
    """argparse's message for flags it does not know, with the closest one it does."""
    message = f"unrecognized arguments: {' '.join(unknown)}"
    flags = {s.lstrip("-"): s for action in command._actions for s in action.option_strings}
    for text in unknown:
        close = difflib.get_close_matches(text.partition("=")[0].lstrip("-"), flags, n=1)
        if text.startswith("--") and close:
            return f"{message}; did you mean {flags[close[0]]!r}?"
    return message


def _one_line(exc: Exception) -> str:
    """The reason of a failure in one line; an OS error names its file without ``[Errno N]``."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__
