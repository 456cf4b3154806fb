"""Clusters and PCA projections, checked against scikit-learn's PCA."""

import numpy as np
import pytest

from theta.data import load_iris, make_blobs
from theta.estimators import KMeans
from theta.plot import clusters, projection

pytest.importorskip("matplotlib")
sklearn_decomposition = pytest.importorskip("sklearn.decomposition")


def test_two_feature_clusters_are_drawn_where_they_are(png):
    X, _ = make_blobs(n_samples=60, centers=3, random_state=0)
    kmeans = KMeans(n_clusters=3, random_state=0).fit(X)
    figure = clusters(X, kmeans.labels_, png("clusters"), centers=kmeans.cluster_centers_)
    png.check(png("clusters"))
    points, centers = figure.axes[0].collections
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_array_equal(points.get_array(), kmeans.labels_)
    np.testing.assert_allclose(centers.get_offsets(), kmeans.cluster_centers_)
    assert figure.axes[0].get_xlabel() == "feature 0"


def test_many_features_are_projected_on_the_principal_components(png):
    iris = load_iris()
    kmeans = KMeans(n_clusters=3, random_state=0).fit(iris.X)
    figure = clusters(iris.X, kmeans.labels_, png("iris"), centers=kmeans.cluster_centers_)
    oracle = sklearn_decomposition.PCA(n_components=2).fit(iris.X)
    points, centers = figure.axes[0].collections
    np.testing.assert_allclose(points.get_offsets(), oracle.transform(iris.X), atol=1e-8)
    np.testing.assert_allclose(centers.get_offsets(), oracle.transform(kmeans.cluster_centers_),
                               atol=1e-8)  # fmt: skip
    assert figure.axes[0].get_xlabel().startswith("PC1 (92.5%")


def test_projection_colours_classes_and_targets(png):
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.y]
    figure = projection(iris.X, labels, png("classes"))
    png.check(png("classes"))
    points = figure.axes[0].collections[0]
    oracle = sklearn_decomposition.PCA(n_components=2).fit(iris.X)
    np.testing.assert_allclose(points.get_offsets(), oracle.transform(iris.X), atol=1e-8)
    np.testing.assert_array_equal(points.get_array(), iris.y)  # names sort like the codes
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["setosa", "versicolor", "virginica"]
    target = iris.X[:, 0] * 2.5  # a real-valued target gets a colour scale
    scaled = projection(iris.X, target, png("target"))
    np.testing.assert_allclose(scaled.axes[0].collections[0].get_array(), target)
    assert len(scaled.axes) == 2  # the plot and its colour bar
    projection(iris.X, None, png("plain"))
    png.check(png("plain"))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: clusters(np.zeros((4, 1)), [0, 0, 1, 1], p), "at least 2 samples and 2 feat"),
        (lambda p: clusters(np.zeros((4, 2)), [0, 1], p), r"one label per row of X, shape \(4,\)"),
        (lambda p: clusters(np.eye(3), [0, 1, 2], p, centers=np.eye(2)), "centers must have"),
        (lambda p: projection(np.zeros((1, 3)), None, p), "at least 2 samples"),
    ],
)
def test_errors_name_the_argument(call, message, png):
    with pytest.raises(ValueError, match=message):
        call(png("bad"))
