"""Write the API pages' generated parts at build time, so they never go stale.

- ``api/theta.md``: ``<!-- theta-members -->`` becomes the top level of ``theta``: links to
  its sub-packages' pages, links to the tensor functions it re-exports from
  ``theta.autograd``, and a ``:::`` directive for every other name in ``theta.__all__``
  (such as ``draw_graph``).
- ``api/cli.md``: ``<!-- theta-help -->`` becomes ``theta --help`` and each command's help.
"""

from __future__ import annotations

import argparse
import os
import types
from unittest import mock

MEMBERS = "<!-- theta-members -->"
HELP = "<!-- theta-help -->"


def theta_members() -> str:
    import theta
    import theta.autograd

    packages = [n for n in theta.__all__ if isinstance(getattr(theta, n), types.ModuleType)]
    tensors = [n for n in theta.__all__ if n in theta.autograd.__all__]
    own = [n for n in theta.__all__ if n not in packages and n not in tensors]
    lines = ["## Packages", ""]
    lines += [f"- [theta.{n}]({n}.md): {_summary(getattr(theta, n))}" for n in packages]
    lines += ["", "## Tensor functions", "",
              "The tensor and its operations, re-exported from [theta.autograd](autograd.md) "
              "so that `theta.tensor`, `theta.matmul`, `theta.no_grad` read like `torch.*`:", ""]
    lines.append(", ".join(f"[`{n}`][theta.autograd.{n}]" for n in tensors))
    lines += ["", "## Other functions", ""]
    lines += [f"::: theta.{n}\n    options:\n      heading_level: 3\n" for n in own]
    return "\n".join(lines)


def _summary(module: types.ModuleType) -> str:
    return (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def theta_help() -> str:
    from theta.cli import build_parser

    with mock.patch.dict(os.environ, {"COLUMNS": "88"}):
        parser = build_parser()
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = ["```text", parser.format_help().rstrip(), "```"]
        for name, command in commands.choices.items():
            parts += ["", f"## theta {name}", "", "```text", command.format_help().rstrip(), "```"]
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "api/theta.md":
        return markdown.replace(MEMBERS, theta_members())
    if page.file.src_uri == "api/cli.md":
        return markdown.replace(HELP, theta_help())
    return markdown
