"""Run each tutorial's Python blocks when the site is built, so no tutorial can rot.

For every page under ``docs/tutorials/`` (and the home page) the fenced ``python`` blocks
(fences that start a line) run top to bottom in one namespace per page, in a fresh temporary
working directory (pages may write files freely). The page is rewritten as a reader would see
a notebook:

- what a block prints follows it in a ``text`` block (nothing when it printed nothing);
- when a block ends with an expression, its value is shown: a matplotlib ``Figure`` becomes
  a PNG (dpi 100) and anything with ``_repr_svg_`` (``theta.draw_graph``) an SVG, written
  next to the page and shown as an image; any other value except ``None`` is shown by its
  ``repr`` after the printed text, like a notebook's ``Out``;
- a block fenced ```` ```python skip ```` is shown but not run; other fences are left alone;
- an exception fails the build, naming the page, the block and the traceback.

Each page's run time goes to ``tutorial-times.json`` at the root of the built site.

Without MkDocs, from the repository root::

    python docs/hooks/execute.py docs/tutorials/chapter.md   # prints the page and its time

or ``from docs.hooks.execute import run_page; run_page(text, Path(tmp))``, which returns a
`PageResult` (the new markdown, the pictures by file name, the seconds it took).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
import os
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```python( skip)?[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
TUTORIALS = "tutorials/"
HOME = "index.md"  # its example runs too, so the first code a reader sees cannot rot


class PageError(RuntimeError):
    """A block of a page raised: the message names the page, the block and the traceback."""


@dataclass
class PageResult:
    """What running a page gave: its new markdown, its pictures ``{file name: bytes}`` (to
    be written next to the page) and its run time in seconds."""

    markdown: str
    pictures: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


def run_page(markdown: str, workdir: Path, *, name: str = "page", prefix: str = "") -> PageResult:
    """Run the ``python`` blocks of ``markdown`` in ``workdir`` and return the rewritten page.

    ``name`` labels pictures (``{name}-1.png``) and errors; ``prefix`` is prepended to each
    picture's link (the folder the pictures are written to, relative to the page).
    """
    namespace = {"__name__": "__main__"}
    out, pictures, start, block = [], {}, 0, 0
    began = time.perf_counter()
    with contextlib.chdir(workdir):
        for match in FENCE.finditer(markdown):
            out.append(markdown[start : match.start()])
            out.append(f"```python\n{match.group(2)}```")  # a skip fence renders as python
            start = match.end()
            if match.group(1):  # ```python skip: shown, not run
                continue
            block += 1
            printed, value = _run_block(match.group(2), namespace, f"{name}, block {block}")
            picture = _picture(value)
            if picture is not None:
                file = f"{name}-{len(pictures) + 1}.{picture[0]}"
                pictures[file] = picture[1]
                value = None
            shown = printed + ("" if value is None else repr(value) + "\n")
            if shown:
                out.append(f"\n\n```text\n{shown.rstrip()}\n```")
            if picture is not None:
                out.append(f"\n\n![{_alt(picture[2], name, block)}]({prefix}{file})")
        _close_figures()
    out.append(markdown[start:])
    return PageResult("".join(out), pictures, time.perf_counter() - began)


def _run_block(code: str, namespace: dict, label: str) -> tuple[str, object]:
    """Execute ``code``; return what it printed and the value of a final expression."""
    filename = f"<{label}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    printed = io.StringIO()
    try:
        tree = ast.parse(code, filename)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(printed):
            exec(compile(tree, filename, "exec"), namespace)
            value = None
            if last is not None:
                value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
    except Exception as exc:
        raise PageError(
            f"{label} raised {type(exc).__name__}:\n"
            + "".join(traceback.format_exception(exc.with_traceback(exc.__traceback__.tb_next)))
            + f"printed before it:\n{printed.getvalue()}"
        ) from exc
    return printed.getvalue(), value


def _picture(value: object) -> tuple[str, bytes, str] | None:
    """``(extension, bytes, title)`` when ``value`` is a picture, else ``None``."""
    if hasattr(value, "_repr_svg_"):
        return "svg", value._repr_svg_().encode(), ""
    figure = sys.modules.get("matplotlib.figure")
    if figure is None or not isinstance(value, figure.Figure):
        return None
    png = io.BytesIO()
    value.savefig(png, format="png", dpi=100, bbox_inches="tight")
    titles = [value._suptitle.get_text()] if value._suptitle else []
    titles += [ax.get_title() for ax in value.axes]
    return "png", png.getvalue(), next((t for t in titles if t), "")


def _alt(title: str, name: str, block: int) -> str:
    text = title or f"Picture drawn by block {block} of {name}"
    return text.replace("[", "(").replace("]", ")")


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


# ---- the MkDocs side: run the pages while the file list is built, so the pictures are
# files of the site (links to them validate) and each page's markdown is swapped in later.

_results: dict[str, PageResult] = {}
# `mkdocs serve` keeps this module across rebuilds: a page whose text did not change is not run
# again (theta itself is imported once per process anyway).
_cache: dict[tuple[str, str], PageResult] = {}


def on_files(files, config):
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    os.environ.setdefault("MPLBACKEND", "Agg")
    _results.clear()
    run = [f for f in files if f.is_documentation_page()
           and (f.src_uri.startswith(TUTORIALS) or f.src_uri == HOME)]  # fmt: skip
    for file in run:
        stem, key = Path(file.src_uri).stem, (file.src_uri, file.content_string)
        if key not in _cache:
            with tempfile.TemporaryDirectory(prefix=f"theta-{stem}-") as tmp:
                try:
                    _cache[key] = run_page(key[1], Path(tmp), name=stem, prefix=f"{stem}/")
                except PageError as exc:
                    raise PluginError(f"docs/{file.src_uri}: {exc}") from exc
        result = _results[file.src_uri] = _cache[key]
        for picture, data in result.pictures.items():
            folder = Path(file.src_uri).with_suffix("").as_posix()  # the page's own URL
            files.append(File.generated(config, f"{folder}/{picture}", content=data))
    times = {uri: round(r.seconds, 2) for uri, r in _results.items() if uri != HOME}
    files.append(File.generated(config, "tutorial-times.json", content=json.dumps(times, indent=1)))
    return files


def on_page_markdown(markdown, page, config, files):
    result = _results.get(page.file.src_uri)
    return markdown if result is None else result.markdown


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    for path in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_page(Path(path).read_text(), Path(tmp), name=Path(path).stem)
        print(result.markdown)
        print(f"{path}: {result.seconds:.2f} s, pictures: {sorted(result.pictures)}")
