"""Predicted against actual values for a regressor, checked against scikit-learn's metrics."""

import numpy as np
import pytest

from theta.plot import predicted_vs_actual

pytest.importorskip("matplotlib")
sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_each_sample_is_a_point_and_the_title_has_r2_and_rmse(rng, png):
    y_true = rng.normal(size=50) * 10
    y_pred = y_true + rng.normal(size=50)
    figure = predicted_vs_actual(y_true, y_pred, png("pva"), title="diabetes · MLP (32,)")
    png.check(png("pva"))
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.stack([y_true, y_pred], 1))
    r2 = sklearn_metrics.r2_score(y_true, y_pred)
    rmse = np.sqrt(sklearn_metrics.mean_squared_error(y_true, y_pred))
    assert ax.get_title() == f"diabetes · MLP (32,) (R² {r2:.3f}, RMSE {rmse:.3g})"
    (diagonal,) = [ln for ln in ax.lines if ln.get_label() == "perfect prediction"]
    x, y = diagonal.get_data()
    np.testing.assert_array_equal(x, y)
    # the diagonal spans every point, and both axes show the same range
    assert x[0] < min(y_true.min(), y_pred.min()) and x[-1] > max(y_true.max(), y_pred.max())
    assert ax.get_xlim() == ax.get_ylim()


def test_a_models_column_output_is_accepted(png):
    y_true = np.array([1.0, 2.0, 4.0])
    figure = predicted_vs_actual(y_true.reshape(-1, 1), (y_true * 2).reshape(-1, 1))
    np.testing.assert_array_equal(figure.axes[0].collections[0].get_offsets()[:, 1], y_true * 2)


def test_one_sample_or_a_constant_target_still_draws():
    figure = predicted_vs_actual([3.0], [3.0])
    assert figure.axes[0].get_xlim()[0] < 3.0 < figure.axes[0].get_xlim()[1]


@pytest.mark.parametrize(
    "y_true, y_pred, message",
    [
        ([1.0, 2.0], [1.0], "y_true and y_pred need the same non-zero .* \\(got 2 and 1\\)"),
        ([], [], "y_true and y_pred need the same non-zero number of samples \\(got 0 and 0\\)"),
        (np.ones((3, 2)), np.ones(3), "y_true must have shape \\(n_samples,\\) or"),
        ([1.0, np.nan], [1.0, 2.0], "y_true must be finite"),
        ([1.0, 2.0], [np.inf, 2.0], "y_pred must be finite"),
    ],
)
def test_errors_name_the_argument(y_true, y_pred, message, png):
    with pytest.raises(ValueError, match=f"predicted_vs_actual: {message}"):
        predicted_vs_actual(y_true, y_pred, png("bad"))
    assert not png("bad").exists()
