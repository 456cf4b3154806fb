"""Surfaces: the chapter's descent path on the loss contours, a classifier's decision regions."""

import numpy as np
import pytest

from theta.data import make_blobs, make_moons
from theta.estimators import KNeighborsClassifier, LogisticRegression
from theta.losses import mse
from theta.nn import Linear
from theta.plot import decision_boundary, descent_path
from theta.train import fit

pytest.importorskip("matplotlib")


def _chapter_walk():
    """The chapter's fit: w = b = 0, MSE, lr 0.05, 1000 full-batch steps, every step recorded."""
    X = np.arange(5.0).reshape(-1, 1)
    model = Linear(1, 1, dtype=np.float64)
    model.load_state_dict({"weight": np.zeros((1, 1)), "bias": np.zeros(1)})
    history = fit(model, X, 2 * X + 1, loss="mse", optimizer="sgd", lr=0.05, steps=1000,
                  batch_size=None, record_params=True, progress=False)  # fmt: skip
    w = [0.0] + [float(p.item()) for p in history.params["weight"]]
    b = [0.0] + [float(p.item()) for p in history.params["bias"]]
    return X.ravel(), w, b


def _line(figure, label):
    (line,) = [ln for ln in figure.axes[0].lines if ln.get_label() == label]
    return line.get_xydata()


def test_the_chapters_descent_path_ends_at_2_1(png):
    x, w, b = _chapter_walk()
    figure = descent_path(w, b, (x, 2 * x + 1), png("descent_path"))
    png.check(png("descent_path"))
    drawn = _line(figure, "descent path")  # read back from the figure, not from the input
    assert drawn.shape == (1001, 2)
    np.testing.assert_allclose(drawn[0], [0.0, 0.0])
    np.testing.assert_allclose(drawn[1], [1.4, 0.5])  # the chapter's step 0
    np.testing.assert_allclose(drawn[-1], [2.0, 1.0], atol=1e-3)
    ax = figure.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < 0 < 2 < x1 and y0 < 0 < 1 < y1  # the whole walk and the minimum are shown


def test_the_contours_are_the_loss_surface(png):
    x, w, b = _chapter_walk()
    y = 2 * x + 1
    by_data = descent_path(w, b, (x, y), png("data"))

    def loss(w_, b_):
        return mse(w_ * x + b_, y).item()

    by_callable = descent_path(w, b, loss, png("callable"), resolution=12)
    for figure in (by_data, by_callable):
        contours = figure.axes[0].collections[0]  # the filled contour set
        assert contours.levels[-1] > 33  # the start, w = b = 0, has loss 33
        assert contours.levels[0] < 1e-2  # down to the bottom of the bowl
    assert np.array_equal(_line(by_data, "descent path"), _line(by_callable, "descent path"))


@pytest.mark.parametrize(
    "w, b, loss, error, message",
    [
        ([0, 1], [0], (np.arange(3.0), np.arange(3.0)), ValueError, "same non-zero length"),
        ([0, np.nan], [0, 1], (np.arange(3.0), np.arange(3.0)), ValueError, "must be finite"),
        ([0, 1], [0, 1], (np.arange(3.0), np.arange(2.0)), ValueError, "x and y must have"),
        ([0, 1], [0, 1], "mse", TypeError, "loss must be a callable"),
    ],
)
def test_descent_path_errors_name_the_argument(w, b, loss, error, message, png):
    with pytest.raises(error, match=message):
        descent_path(w, b, loss, png("bad"))
    assert not png("bad").exists()


def _grid_centres(image):
    """The (x, y) centre of every pixel of an ``origin="lower"`` image, row by row."""
    rows, cols = image.get_array().shape
    x0, x1, y0, y1 = image.get_extent()
    xs = x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols
    ys = y0 + (np.arange(rows) + 0.5) * (y1 - y0) / rows
    return np.stack([a.ravel() for a in np.meshgrid(xs, ys)], axis=1)


def test_decision_regions_are_the_models_predictions(png):
    X, y = make_moons(n_samples=120, noise=0.1, random_state=0)
    model = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    figure = decision_boundary(model, X, y, png("decision"), resolution=60)
    png.check(png("decision"))
    ax = figure.axes[0]
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array().ravel(), model.predict(_grid_centres(image)))
    # the points: at X, coloured by their true class, with the colour the regions give it
    points = ax.collections[0]
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_array_equal(points.get_array(), y)
    assert image.cmap(image.norm(1)) == points.cmap(points.norm(1))


def test_decision_colours_at_the_training_points_agree_with_predictions(png):
    X, y = make_blobs(n_samples=90, centers=3, cluster_std=0.6, random_state=1)
    names = np.array(["red team", "green team", "blue team"])
    model = LogisticRegression().fit(X, names[y])  # string labels
    figure = decision_boundary(model, X, names[y], png("blobs"), resolution=150)
    image = figure.axes[0].images[0]
    rows, cols = image.get_array().shape
    x0, x1, y0, y1 = image.get_extent()
    col = ((X[:, 0] - x0) / (x1 - x0) * cols).astype(int)
    row = ((X[:, 1] - y0) / (y1 - y0) * rows).astype(int)
    classes = np.sort(names)
    drawn = classes[image.get_array()[row, col]]
    assert np.mean(drawn == model.predict(X)) >= 0.97  # all but points on a boundary pixel
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == sorted(names)


def test_decision_boundary_takes_a_function(png):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    figure = decision_boundary(lambda Z: (Z[:, 0] > 1).astype(int), X, [0, 0, 1], png("f"),
                                resolution=10)  # fmt: skip
    image = figure.axes[0].images[0]
    np.testing.assert_array_equal(image.get_array().ravel(),
                                  (_grid_centres(image)[:, 0] > 1).astype(int))  # fmt: skip


@pytest.mark.parametrize(
    "X, y, predict, message",
    [
        (np.zeros((3, 3)), [0, 1, 0], None, r"X must have shape \(n_samples, 2\)"),
        (np.zeros((3, 2)), [0, 1], None, r"y must have shape \(3,\)"),
        (np.eye(2), [0, 1], lambda Z: np.zeros((len(Z), 2)), "one label per row"),
    ],
)
def test_decision_boundary_errors(X, y, predict, message, png):
    with pytest.raises(ValueError, match=message):
        decision_boundary(predict or (lambda Z: Z[:, 0] > 0), X, y, png("bad"))
