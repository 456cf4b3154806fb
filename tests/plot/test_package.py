"""theta.plot as a whole: matplotlib only when drawing, one message when it is missing."""

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
}  # fmt: skip


def test_every_public_picture_is_tested_here():
    assert set(CALLS) == set(plot.__all__) - {"Picture"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_picture_is_a_png_written_atomically(name, png):
    pytest.importorskip("matplotlib")
    picture = CALLS[name](png(name))
    assert isinstance(picture, plot.Picture) and picture.path == png(name)
    png.check(picture.path)


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
