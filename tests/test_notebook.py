"""theta in a Jupyter notebook: a model, its History and its pictures show themselves.

The end-to-end test writes a notebook, runs it in a real IPython kernel (nbclient with
ipykernel's ``python3``) and reads what the cells displayed, as Jupyter would show it.
"""

import base64
import re
from html.parser import HTMLParser

import pytest

from theta.nn import MLP, Linear, Module

CELLS = [
    "from theta import plot\n"
    "from theta.data import load_iris\n"
    "from theta.nn import MLP\n"
    "from theta.train import fit\n"
    "iris = load_iris()\n"
    "model = MLP((4, 16, 3), rng=0)\n"
    "history = fit(model, iris.X, iris.y, loss='cross_entropy', optimizer='adam', lr=0.01,\n"
    "              epochs=3, batch_size=32, seed=0, validation_split=0.2, progress=False)",
    "model",
    "history",
    "plot.loss_curve(history, title='iris · MLP (16,) · loss')",
    "plot.confusion_matrix(iris.y, model(iris.X).numpy().argmax(axis=1))",
]


class _Tables(HTMLParser):
    """The cells of every HTML table, row by row, as text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")

    def handle_data(self, data):
        if self.tables and self.tables[-1] and self.tables[-1][-1]:
            self.tables[-1][-1][-1] += data


def _summary_tables(model: Module) -> list[list[list[str]]]:
    """``model.summary()``'s two tables, split into cells on runs of two spaces or more."""
    lines = model.summary().splitlines()[1:]
    split = next(i for i, line in enumerate(lines) if line.startswith("hyperparameter"))
    return [[re.split(r"\s{2,}", line.strip()) for line in part]
            for part in (lines[:split], lines[split:])]  # fmt: skip


def test_a_models_html_is_its_summary_as_tables():
    model = MLP((4, 8, 3), rng=0)
    markup = model._repr_html_()
    tables = _Tables(markup).tables
    expected = _summary_tables(model)
    assert tables[1] == expected[1]
    # the text table leaves the total row's empty shape out; HTML keeps the cell
    assert [[c for c in row if c] for row in tables[0]] == expected[0]
    assert tables[0][-1] == ["total", "", f"{model.n_parameters():,}"]
    assert "<b>MLP</b>" in markup


def test_a_models_html_is_escaped():
    class Tagged(Module):
        def __init__(self, note: str = "<script>alert('x')</script> & co"):
            self.note = note
            self.layer = Linear(2, 1, rng=0)

    markup = Tagged()._repr_html_()
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "&amp; co" in markup
    hyper = dict(_Tables(markup).tables[1][1:])
    assert hyper["note"] == repr("<script>alert('x')</script> & co")


def test_a_notebook_shows_the_model_history_and_pictures(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=60,
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    nbformat.write(notebook, tmp_path / "theta.ipynb")  # kept for a person to open

    def shown(i: int) -> dict:
        (result,) = [o for o in notebook.cells[i].outputs if o.output_type == "execute_result"]
        return result["data"]

    model_html = shown(1)["text/html"]
    assert _Tables(model_html).tables[0][-1] == ["total", "", "131"]  # 4*16+16 + 16*3+3
    assert shown(1)["text/plain"].startswith("MLP(")
    history_html = shown(2)["text/html"]
    assert "<table" in history_html and "val_loss" in history_html
    for i in (3, 4):
        png = base64.b64decode(shown(i)["image/png"])
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert list(tmp_path.iterdir()) == [tmp_path / "theta.ipynb"]  # nothing saved unasked
