"""Pictures in run folders: what ``theta train`` and ``theta rl`` draw for each kind of run.

The pictures are checked by spying on :mod:`theta.plot`: each figure drawn for a run must
show what the run's own saved model does (read back with ``load_run``), on the data split the
run used.
"""

import json
import sys

import numpy as np
import pytest

from theta import data, metrics, plot
from theta.cli.runs import load_run, load_table

pytest.importorskip("matplotlib")

CHAPTER_OUTPUT = """\
step    0  loss  33.0000  w 1.4000  b 0.5000
step  200  loss   0.0000  w 2.0002  b 0.9994
step  999  loss   0.0000  w 2.0000  b 1.0000
learned: 2.0 1.0
prediction: 21.0
"""


@pytest.fixture
def drawn(monkeypatch):
    """Every figure drawn through theta.plot during the test, by function name."""
    figures: dict[str, list] = {}
    for name in ("descent_path", "decision_boundary", "confusion_matrix", "attention_map",
                 "regret_curve", "loss_curve", "projection", "predicted_vs_actual"):  # fmt: skip
        original = getattr(plot, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            figure = _original(*args, **kwargs)
            figures.setdefault(_name, []).append(figure)
            return figure

        monkeypatch.setattr(plot, name, spy)
    return figures


def _pngs(run) -> set[str]:
    return {p.name for p in run.glob("*.png")}


def test_theta_train_out_alone_is_the_chapter_as_a_run_folder(tmp_path, theta_cli):
    run = tmp_path / "chapter"
    result = theta_cli("train", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert result.stdout == CHAPTER_OUTPUT + f"run saved to {run}\n"
    assert _pngs(run) == {"loss_curve.png", "descent_path.png", "predicted_vs_actual.png"}
    for name in ("config.json", "summary.json", "metrics.csv", "model/model.safetensors"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert (config["data"], config["model"], config["optimizer"], config["lr"],
            config["steps"], config["batch_size"]) == ("line", "linear", "sgd", 0.05, 1000, 0)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_parameters"] == 2 and summary["steps"] == 1000
    assert theta_cli("predict", str(run), "10").stdout == "21\n"
    again = theta_cli("train", "--out", str(run))
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_the_chapter_runs_descent_path_ends_at_2_1(theta_main, tmp_path, drawn):
    code, out, _ = theta_main("train", "--out", str(tmp_path / "chapter"))
    assert code == 0 and out.startswith(CHAPTER_OUTPUT)
    (figure,) = drawn["descent_path"]
    (walk,) = [ln for ln in figure.axes[0].lines if ln.get_label() == "descent path"]
    xy = walk.get_xydata()
    assert xy.shape == (1001, 2)  # the start, then every step
    np.testing.assert_allclose(xy[0], [0.0, 0.0])
    np.testing.assert_allclose(xy[-1], [2.0, 1.0], atol=1e-3)


def test_a_linear_model_on_the_line_from_a_random_start_walks_to_2_1(theta_main, tmp_path, drawn):
    run = tmp_path / "line"
    code, out, _ = theta_main("train", "--data", "line", "--out", str(run), "--quiet")
    assert code == 0 and out.startswith("trained linear on line: 1000 steps")
    assert _pngs(run) == {"loss_curve.png", "descent_path.png", "predicted_vs_actual.png"}
    (walk,) = [ln for ln in drawn["descent_path"][0].axes[0].lines
               if ln.get_label() == "descent path"]  # fmt: skip
    saved = load_run(run).model  # the walk ends at the parameters that were saved
    np.testing.assert_allclose(walk.get_xydata()[-1], [saved.weight.item(), saved.bias.item()])
    np.testing.assert_allclose(walk.get_xydata()[-1], [2.0, 1.0], atol=1e-2)


def test_the_confusion_matrix_is_the_saved_model_on_the_validation_split(theta_main, tmp_path,
                                                                         drawn):  # fmt: skip
    run = tmp_path / "iris"
    code, _, err = theta_main("train", "--data", "iris", "--epochs", "2", "--out",
                               str(run), "--quiet")  # fmt: skip
    assert code == 0, err
    assert _pngs(run) == {"loss_curve.png", "confusion_matrix.png", "projection.png"}
    trained = load_run(run)
    iris = data.load_iris()
    _, X_val, _, y_val = data.train_val_split(iris.X, iris.y, val_fraction=0.2, rng=0)
    names = np.asarray(trained.target_names)
    expected = metrics.confusion_matrix(names[y_val], trained.predict(X_val), labels=names)
    (matrix,) = drawn["confusion_matrix"]
    texts = [int(t.get_text()) for t in matrix.axes[0].texts]
    np.testing.assert_array_equal(np.reshape(texts, (3, 3)), expected)
    assert int(expected.sum()) == 30 and "validation data" in matrix.axes[0].get_title()
    # titles name the run: its model (and its data set, when the caller names it)
    (loss,) = drawn["loss_curve"]
    assert loss.axes[0].get_title().endswith("MLP (64,) · loss")
    assert "MLP (64,) · " in matrix.axes[0].get_title()
    # 4 features: no decision regions, but the training data on its principal plane
    (shown,) = drawn["projection"]
    points = np.concatenate([c.get_offsets() for c in shown.axes[0].collections])
    assert points.shape == (120, 2)


def test_two_features_draw_the_saved_models_decision_regions(theta_main, tmp_path, drawn):
    run = tmp_path / "moons"
    code, _, err = theta_main("train", "--data", "moons", "--epochs", "3", "--out",
                               str(run), "--quiet")  # fmt: skip
    assert code == 0, err
    assert _pngs(run) == {"loss_curve.png", "confusion_matrix.png", "decision_boundary.png"}
    trained = load_run(run)
    (regions,) = drawn["decision_boundary"]
    ax = regions.axes[0]
    image = ax.images[0]
    rows, cols = image.get_array().shape
    x0, x1, y0, y1 = image.get_extent()
    xs = x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols
    ys = y0 + (np.arange(rows) + 0.5) * (y1 - y0) / rows
    centres = np.stack([a.ravel() for a in np.meshgrid(xs, ys)], axis=1)
    predicted = np.searchsorted(trained.target_names, trained.predict(centres))
    np.testing.assert_array_equal(image.get_array().ravel(), predicted)
    assert len(ax.collections[0].get_offsets()) == 80  # the training points (80% of 100)


def test_regression_draws_the_saved_models_predictions_against_the_truth(theta_main, tmp_path,
                                                                        drawn):  # fmt: skip
    run = tmp_path / "diabetes"
    assert theta_main("train", "--data", "diabetes", "--epochs", "1", "--out",
                       str(run), "--quiet")[0] == 0  # fmt: skip
    assert _pngs(run) == {"loss_curve.png", "predicted_vs_actual.png"}
    X, y, _, _ = load_table("diabetes")
    _, X_val, _, y_val = data.train_val_split(X, y, val_fraction=0.2, rng=0)
    predicted = np.asarray(load_run(run).predict(X_val), dtype=np.float64)
    (figure,) = drawn["predicted_vs_actual"]
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.stack([y_val, predicted], 1))
    assert "validation data" in ax.get_title()


def test_a_gpt_run_draws_the_last_blocks_attention(theta_main, tmp_path, drawn):
    run = tmp_path / "gpt"
    code, _, err = theta_main("train", "--model", "gpt", "--steps", "4", "--n-layer",
                               "2", "--n-heads", "2", "--n-embd", "16", "--block-size", "16",
                               "--eval-every", "2", "--eval-windows", "4", "--quiet",
                               "--out", str(run))  # fmt: skip
    assert code == 0, err
    assert _pngs(run) == {"loss_curve.png", "attention_map.png"}
    (figure,) = drawn["attention_map"]
    heads = [figure.axes[h].images[0].get_array() for h in range(2)]
    for weights in heads:
        assert weights.shape == (16, 16)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
        assert np.all(np.triu(weights, k=1) == 0)
    text = data.load_tinyshakespeare()
    validation = text[int(len(text) * 0.9):][:16]
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == [{"\n": "⏎", " ": "␣"}.get(c, c) for c in validation]
    assert "block 2 (the last)" in figure.get_suptitle()


def test_a_bandit_run_draws_its_regret(tmp_path, theta_cli):
    pytest.importorskip("gymnasium")
    run = tmp_path / "bandit"
    result = theta_cli("rl", "--env", "Bandit-v0", "--agent", "thompson", "--steps", "300",
                       "--eval-episodes", "2", "--out", str(run), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _pngs(run) == {"reward_curve.png", "regret.png"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_regret"] > 0


def test_without_matplotlib_a_run_has_no_pictures_and_says_why(theta_main, tmp_path, monkeypatch):
    for module in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.setitem(sys.modules, module, None)
    run = tmp_path / "moons"
    code, out, _ = theta_main("train", "--data", "moons", "--epochs", "1", "--out",
                               str(run), "--quiet")  # fmt: skip
    assert code == 0
    assert _pngs(run) == set() and (run / "model").is_dir()
    assert out.splitlines()[-1] == f"run saved to {run} (pip install 'theta-ml[plot]' for its " \
                                   "pictures)"
