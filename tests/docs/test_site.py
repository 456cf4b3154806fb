"""The documentation site: ``mkdocs build --strict`` passes with no warning, which runs every
tutorial's code (docs/hooks/execute.py), and the built pages hold every public name and render
in headless Chromium; and the page executor itself, on small pages.

The site is built once for the module (the build is the tutorials' test: nothing runs them a
second time). A screenshot of a tutorial page is saved in the test's temporary folder, or under
``$THETA_TEST_ARTIFACTS`` when that is set.
"""

import argparse
import functools
import http.server
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ["chapter", "tensors", "features", "similarities", "training", "convolutions",
             "transformers", "reinforcement", "tuning", "saving", "command-line"]  # fmt: skip
PAGES = {  # package -> its API page
    "theta": "theta", "theta.autograd": "autograd", "theta.nn": "nn",
    "theta.nn.functional": "functional", "theta.losses": "losses", "theta.optim": "optim",
    "theta.data": "data", "theta.train": "train", "theta.io": "io", "theta.models": "models",
    "theta.estimators": "estimators", "theta.metrics": "metrics", "theta.rl": "rl",
    "theta.tune": "tune", "theta.plot": "plot", "theta.distributions": "distributions",
    "theta.kernels": "kernels",
}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once into a temporary folder; any warning fails the build."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-8000:]
    assert not re.findall(r"^WARNING.*", result.stderr, re.M), result.stderr[-8000:]
    return out


@pytest.mark.slow
def test_the_site_builds_with_every_page(site):
    html = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    expected = ["index.html", "api/index.html", "api/cli/index.html"]
    expected += [f"api/{page}/index.html" for page in PAGES.values()]
    expected += [f"tutorials/{name}/index.html" for name in TUTORIALS]
    assert set(expected) <= set(html)
    print(f"{len(html)} HTML pages")


@pytest.mark.slow
@pytest.mark.parametrize("name", TUTORIALS)
def test_each_tutorial_page_is_built_from_its_run(site, name):
    page = (site / "tutorials" / name / "index.html").read_text()
    assert re.search(r"<h1[^>]*>", page)
    assert "<p>```" not in page, "a fence that Markdown did not read as code"
    for src in re.findall(r'<img[^>]* src="([^"]+)"', page):  # the build drew each picture
        picture = (site / "tutorials" / name / src).resolve()
        assert picture.is_file() and picture.stat().st_size > 0, src
    source = (ROOT / "docs" / "tutorials" / f"{name}.md").read_text()
    runs = len(re.findall(r"^```python[ \t]*$", source, re.M))
    assert runs > 0, f"{name}.md has no Python block that the build runs"


@pytest.mark.slow
def test_no_picture_is_committed_by_hand(site):
    drawn = sorted(p.relative_to(site).as_posix() for p in site.glob("tutorials/*/*.png"))
    assert drawn, "no tutorial drew a picture"
    committed = [p for p in (ROOT / "docs").rglob("*") if p.suffix in (".png", ".svg", ".jpg")]
    assert committed == []


@pytest.mark.slow
def test_tutorial_times_lists_every_tutorial(site):
    times = json.loads((site / "tutorial-times.json").read_text())
    assert set(times) == {f"tutorials/{name}.md" for name in TUTORIALS}
    assert all(isinstance(t, float | int) and t >= 0 for t in times.values())
    print(json.dumps(times, indent=1))


@pytest.mark.slow
@pytest.mark.parametrize("package", PAGES)
def test_every_public_name_is_on_its_page(site, package):
    """Each name of ``__all__`` has its own entry (an anchor with its full name), or, for a
    sub-package or a tensor function re-exported at the top level, a link to where it has."""
    module = importlib.import_module(package)
    html = (site / "api" / PAGES[package] / "index.html").read_text()
    anchors = set(re.findall(r'id="([^"]+)"', html))
    autograd = importlib.import_module("theta.autograd").__all__
    missing = []
    for name in module.__all__:
        if isinstance(getattr(module, name), types.ModuleType):
            found = f'href="../{name}/"' in html or f"{package}.{name}" in anchors
        elif package == "theta" and name in autograd:
            found = f'href="../autograd/#theta.autograd.{name}"' in html
        else:
            found = f"{package}.{name}" in anchors
        if not found:
            missing.append(name)
    assert missing == [], f"{package}: not on api/{PAGES[package]}.md (or without a docstring)"


@pytest.mark.slow
def test_the_command_page_shows_each_commands_help(site):
    from theta.cli import build_parser

    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    html = (site / "api" / "cli" / "index.html").read_text()
    assert "usage: theta [-h]" in html
    for name in commands.choices:
        assert f'id="theta-{name}"' in html and f"usage: theta {name}" in html, name


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test's output is the screenshot's path, not requests
        pass


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on loopback (the search runs in a web worker, which
    ``file://`` pages may not start)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_an_api_page_in_chromium(served, chromium):
    chromium.get(f"{served}/api/nn/")
    headings = chromium.execute_script(
        "return Array.from(document.querySelectorAll('article h1, article h2'), "
        "h => [h.tagName, h.id, h.textContent.replace('\\u00b6', '').trim()])"
    )
    signature = chromium.execute_script(
        "const h = document.getElementById('theta.nn.Linear');"
        "return h.parentElement.querySelector('.doc-signature').textContent"
    )
    assert headings[0][::2] == ["H1", "theta.nn"]
    h2 = {id: text for tag, id, text in headings if tag == "H2"}
    assert h2["theta.nn.Linear"] == "Linear" and h2["theta.nn.Module"] == "Module"
    assert re.sub(r"\s+", "", signature).startswith("Linear(in_features:int,out_features:int,")


@pytest.mark.slow
def test_a_tutorial_with_its_pictures_in_chromium(served, chromium, full_page_screenshot):
    chromium.get(f"{served}/tutorials/chapter/")
    images = chromium.execute_script(
        "return Array.from(document.querySelectorAll('article img'), i => ({src: i.src, "
        "alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
    )
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    full_page_screenshot(chromium, "tutorial_chapter.png")
    assert images, "the chapter tutorial shows no picture"
    for image in images:  # each picture decoded, not broken, with alt text
        assert image["complete"] and image["width"] > 0, image
        assert image["alt"], image
    assert errors == []


@pytest.mark.slow
def test_the_search_box_finds_a_layer(served, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    chromium.get(f"{served}/")
    chromium.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search").click()
    box = chromium.find_element(By.CSS_SELECTOR, "input.md-search__input")
    assert box.get_attribute("placeholder") == "Search"
    box.send_keys("Linear")
    result = (By.CSS_SELECTOR, ".md-search-result__item")
    WebDriverWait(chromium, 30).until(expected_conditions.presence_of_element_located(result))
    results = chromium.find_elements(*result)
    assert any("Linear" in r.text for r in results)


# --- the page executor, without MkDocs ---------------------------------------------------------


@functools.cache
def _executor() -> types.ModuleType:
    """docs/hooks/execute.py, imported by its path (docs/ is not a package on sys.path)."""
    name = "theta_docs_execute"
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs/hooks/execute.py")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_executor_shows_what_each_block_prints_in_one_namespace(tmp_path):
    page = "# P\n\n```python\nx = 2\nprint(x * 21)\n```\n\nText.\n\n```python\nx += 1\n```\n"
    result = _executor().run_page(page, tmp_path)
    assert result.markdown == page.replace("```\n\nText", "```\n\n```text\n42\n```\n\nText")
    assert result.pictures == {} and result.seconds >= 0


def test_the_executor_shows_a_final_value_by_its_repr(tmp_path):
    page = "```python\nimport numpy as np\nprint('sum')\nnp.arange(3).sum()\n```\n"
    result = _executor().run_page(page, tmp_path)
    assert result.markdown.endswith("```\n\n```text\nsum\nnp.int64(3)\n```\n")


def test_the_executor_runs_in_the_working_folder_and_leaves_other_fences_alone(tmp_path):
    page = ("```python\nimport pathlib\npathlib.Path('out.txt').write_text('hi')\n```\n"
            "```python skip\nraise SystemExit\n```\n```bash\nexit 1\n```\n")  # fmt: skip
    result = _executor().run_page(page, tmp_path)
    assert (tmp_path / "out.txt").read_text() == "hi"
    assert result.markdown == page.replace("```\n```python skip", "```\n\n```text\n2\n```"
                                           "\n```python")  # fmt: skip


def test_the_executor_writes_figures_and_svg_as_pictures(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    page = (
        "```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 1))\n"
        "ax.set_title('descent')\nfig\n```\n"
        "```python\nclass Graph:\n    def _repr_svg_(self):\n        return '<svg/>'\n"
        "Graph()\n```\n"
    )
    result = _executor().run_page(page, tmp_path, name="demo", prefix="demo/")
    assert set(result.pictures) == {"demo-1.png", "demo-2.svg"}
    png = result.pictures["demo-1.png"]
    width, height = np.frombuffer(png[16:24], dtype=">u4")
    assert png.startswith(b"\x89PNG") and 150 <= width <= 250 and 50 <= height <= 150  # dpi 100
    assert result.pictures["demo-2.svg"] == b"<svg/>"
    assert "![descent](demo/demo-1.png)" in result.markdown
    assert "![Picture drawn by block 2 of demo](demo/demo-2.svg)" in result.markdown


def test_an_exception_names_the_page_the_block_and_the_traceback(tmp_path):
    execute = _executor()
    page = "```python\nx = 1\n```\n```python\nprint('first')\n{}['missing']\n```\n"
    with pytest.raises(execute.PageError, match=r"(?s)chapter, block 2 raised KeyError.*"
                       r"File \"<chapter, block 2>\", line 2.*'missing'.*first"):  # fmt: skip
        execute.run_page(page, tmp_path, name="chapter")
