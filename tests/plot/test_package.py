"""theta.plot as a whole: matplotlib only when drawing, one message when it is missing."""

import io
import pickle
import subprocess
import sys

import numpy as np
import pytest

import theta.plot as plot
from theta.train import History

CALLS = {
    "loss_curve": lambda p: plot.loss_curve(History(step_loss=[1.0, 0.5]), p),
    "reward_curve": lambda p: plot.reward_curve([1.0, 2.0], p),
    "regret_curve": lambda p: plot.regret_curve({"a": [0.0, 0.5]}, p),
    "descent_path": lambda p: plot.descent_path([0, 1], [0, 1], (np.arange(3.0),) * 2, p),
    "decision_boundary": lambda p: plot.decision_boundary(lambda Z: Z[:, 0] > 0, np.eye(2),
                                                          [False, True], p),
    "clusters": lambda p: plot.clusters(np.eye(3), [0, 1, 1], p),
    "projection": lambda p: plot.projection(np.eye(3), [0, 1, 1], p),
    "confusion_matrix": lambda p: plot.confusion_matrix([0, 1], [1, 1], p),
    "attention_map": lambda p: plot.attention_map(np.eye(2), ["a", "b"], p),
    "search_scores": lambda p: plot.search_scores({"param_a": [1], "mean_test_score": [0.5]}, p),
    "predicted_vs_actual": lambda p: plot.predicted_vs_actual([1.0, 2.0], [1.5, 2.5], p),
}  # fmt: skip


def test_every_public_picture_is_tested_here():
    # the graph drawing returns SVG, not a Figure: tests/plot/test_graph.py tests it
    assert set(CALLS) | {"computation_graph", "draw_graph"} == set(plot.__all__)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_picture_is_a_figure_and_given_a_path_a_png_written_atomically(name, png):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = CALLS[name](png(name))
    assert isinstance(figure, Figure)
    png.check(png(name))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_without_a_path_nothing_is_written(name, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    figure = CALLS[name](None)
    assert figure.axes and list(tmp_path.iterdir()) == []


def test_a_figure_shows_itself_in_a_notebook_as_the_png_it_saves(png):
    """IPython shows ``_repr_png_``: theta's figures bypass pyplot, whose backend would."""
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    figure = CALLS["confusion_matrix"](png("saved"))
    shown = figure._repr_png_()
    assert shown.startswith(b"\x89PNG\r\n\x1a\n")
    inline, saved = imread(io.BytesIO(shown)), png.check(png("saved"))
    assert inline.shape == saved.shape  # the same picture; a second render may shift a pixel
    assert np.mean(np.abs(inline - saved)) < 0.01


def test_a_figure_pickles(png):
    """A notebook's figures may be pickled (multiprocessing, caches): the class is importable."""
    pytest.importorskip("matplotlib")
    figure = pickle.loads(pickle.dumps(CALLS["loss_curve"](None)))
    assert figure.axes[0].lines[0].get_ydata().tolist() == [1.0, 0.5]
    assert figure._repr_png_().startswith(b"\x89PNG")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_without_matplotlib_each_picture_names_the_extra(name, png, monkeypatch):
    for module in [m for m in sys.modules if m.split(".")[0] == "matplotlib"] or ["matplotlib"]:
        monkeypatch.setitem(sys.modules, module, None)  # as if matplotlib were not installed
    with pytest.raises(ImportError, match=r"pip install 'theta-ml\[plot\]'"):
        CALLS[name](png(name))
    assert not png(name).exists()


def test_importing_theta_plot_does_not_import_matplotlib():
    probe = "import sys, theta.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_drawing_leaves_pyplot_alone(png):
    pytest.importorskip("matplotlib")
    import matplotlib

    backend = matplotlib.get_backend()
    before = set(sys.modules)
    CALLS["loss_curve"](png("loss"))
    assert "matplotlib.pyplot" in before or "matplotlib.pyplot" not in sys.modules
    assert matplotlib.get_backend() == backend
