"""theta.metrics against scikit-learn's: same numbers, same errors, same warnings."""

import warnings

import numpy as np
import pytest

from theta import metrics as T
from theta.data import load_iris
from theta.errors import InvalidParameterError, UndefinedMetricWarning

S = pytest.importorskip("sklearn.metrics")


def _run(fn, *args, **kwargs):
    """Result (or the error's type and text) and the warnings raised, for side-by-side checks."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
            out = ("error", str(exc))
    return out, sorted((w.category.__name__, str(w.message)) for w in caught)


def _same(a, b):
    if isinstance(a, tuple) and a and isinstance(a[0], str):
        return a == b
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=0, atol=1e-15, equal_nan=True)


def _labels(rng, kind, n, k):
    y = rng.integers(0, k, n)
    if kind == "str":
        return np.array(["ant", "bee", "cat", "dog", "eel", "fox"])[y]
    if kind == "float":
        return y.astype(float) + 1.0
    return y


# --- precision, recall, F, support ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["int", "str", "float"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_prfs_matches_sklearn_on_random_labels(kind, k):
    rng = np.random.default_rng(k)
    betas = [1.0, 0.5, 2.0, 0.0, np.inf]
    for trial in range(6):
        n = int(rng.integers(1, 30))
        y_true, y_pred = _labels(rng, kind, n, k), _labels(rng, kind, n, k)
        sw = rng.random(n) + 0.1 if trial % 2 else None
        present = np.unique(np.concatenate([y_true, y_pred]))
        labels = None if trial % 3 else present[::-1][: max(1, len(present) - 1)]
        for average in [None, "micro", "macro", "weighted", "binary"]:
            for i, zero_division in enumerate(["warn", 0.0, 1.0, np.nan]):
                kw = dict(
                    beta=betas[(trial + i) % 5], labels=labels, average=average,
                    sample_weight=sw, zero_division=zero_division, pos_label=y_true[0],
                )  # fmt: skip
                ours = _run(T.precision_recall_fscore_support, y_true, y_pred, **kw)
                theirs = _run(S.precision_recall_fscore_support, y_true, y_pred, **kw)
                assert _same(ours[0], theirs[0]), (kw, ours, theirs)
                assert ours[1] == theirs[1], (kw, ours[1], theirs[1])


@pytest.mark.parametrize("name", ["precision_score", "recall_score", "f1_score"])
@pytest.mark.parametrize("average", ["binary", "micro", "macro", "weighted", None])
def test_scores_match_sklearn_including_warnings(name, average):
    rng = np.random.default_rng(1)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 2, 8), rng.integers(0, 2, 8)
        ours = _run(getattr(T, name), y_true, y_pred, average=average)
        theirs = _run(getattr(S, name), y_true, y_pred, average=average)
        assert _same(ours[0], theirs[0]) and ours[1] == theirs[1], (ours, theirs)


def test_fbeta_matches_sklearn():
    y_true, y_pred = ["a", "b", "c", "a", "b"], ["a", "c", "c", "a", "a"]
    for beta in [0.0, 0.5, 1.0, 3.0]:
        ours = T.fbeta_score(y_true, y_pred, beta=beta, average="macro")
        assert ours == pytest.approx(S.fbeta_score(y_true, y_pred, beta=beta, average="macro"))


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs",
    [
        ([0, 0, 0], [0, 0, 0], {}),  # nothing predicted positive, nothing true: all ill-defined
        ([0, 1, 0], [0, 0, 0], {}),  # precision ill-defined
        ([0, 0, 0], [1, 0, 0], {}),  # recall ill-defined
        ([0, 1, 2], [0, 0, 0], {"average": "macro"}),
        ([0, 1, 2], [0, 0, 0], {"average": None, "zero_division": 1.0}),
        ([0, 1, 2], [0, 0, 0], {"average": "weighted", "zero_division": np.nan}),
        (["a", "b"], ["a", "a"], {"labels": ["a", "b", "c"], "average": None}),
    ],
)
def test_zero_division_matches_sklearn(y_true, y_pred, kwargs):
    for name in ["precision_score", "recall_score", "f1_score"]:
        ours = _run(getattr(T, name), y_true, y_pred, **kwargs)
        theirs = _run(getattr(S, name), y_true, y_pred, **kwargs)
        assert _same(ours[0], theirs[0]) and ours[1] == theirs[1], (name, ours, theirs)


def test_ill_defined_score_warns_with_theta_and_sklearn_type():
    with pytest.warns(UndefinedMetricWarning, match="Precision is ill-defined"):
        assert T.precision_score([1, 0], [0, 0]) == 0.0
    from sklearn.exceptions import UndefinedMetricWarning as SklearnWarning

    with pytest.warns(SklearnWarning):  # sklearn's own filters catch theta's warning too
        T.recall_score([0, 0], [1, 0])


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs",
    [
        ([0, 1, 2], [0, 1, 2], {}),  # multiclass with average="binary"
        (["a", "b"], ["a", "b"], {}),  # pos_label=1 is not a label
        ([0, 1], [0, 1], {"pos_label": 2}),
        ([0.5, 1.0], [0.0, 1.0], {}),  # continuous
        ([0.5, 1.5], [0.5, 1.0], {}),
        ([np.nan, 1.0], [0.0, 1.0], {}),
        ([np.inf, 1.0], [0.0, 1.0], {}),
        ([1, 2], ["a", "b"], {}),  # mix of str and numbers
        ([], [], {}),
        ([0, 1], [0, 1, 1], {}),
        ([0, 1], [0, 1], {"sample_weight": [1.0, np.nan]}),
        ([0, 1], [0, 1], {"sample_weight": [1.0]}),
    ],
)
def test_bad_targets_raise_like_sklearn(y_true, y_pred, kwargs):
    with pytest.raises(ValueError) as ours:
        T.precision_score(y_true, y_pred, **kwargs)
    with pytest.raises(ValueError) as theirs, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn casts NaN to int first
        S.precision_score(y_true, y_pred, **kwargs)
    if "Mix" in str(theirs.value) or "infinity" in str(theirs.value):
        assert str(ours.value).split(";")[0][:40] == str(theirs.value).split(";")[0][:40]
    elif "sample" not in str(ours.value) or "empty" in str(ours.value):
        assert str(ours.value) == str(theirs.value)
    else:
        assert "sample" in str(theirs.value)


def test_nan_in_labels_and_weights_is_named():
    with pytest.raises(ValueError, match="Input y_pred contains NaN"):
        T.f1_score([0, 1], [0, np.nan])
    with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
        T.confusion_matrix([0, 1], [0, 1], sample_weight=[np.nan, 1.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.precision_score([0, 1], [0, 1], zero_division=2),
        lambda m: m.recall_score([0, 1], [0, 1], average="samples_or_so"),
        lambda m: m.fbeta_score([0, 1], [0, 1], beta=-1),
        lambda m: m.confusion_matrix([0, 1], [0, 1], normalize="rows"),
    ],
)
def test_bad_parameters_raise_invalid_parameter_error(call):
    with pytest.raises(InvalidParameterError, match="parameter of"):
        call(T)
    with pytest.raises(ValueError):
        call(S)


def test_multilabel_input_is_refused_clearly():
    with pytest.raises(ValueError, match="multilabel"):
        T.f1_score(np.eye(3, dtype=int), np.eye(3, dtype=int), average="macro")


# --- confusion matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["int", "str", "float"])
def test_confusion_matrix_matches_sklearn(kind):
    rng = np.random.default_rng(2)
    for trial in range(40):
        n, k = int(rng.integers(1, 40)), int(rng.integers(2, 6))
        y_true, y_pred = _labels(rng, kind, n, k), _labels(rng, kind, n, k)
        sw = [None, rng.random(n), rng.integers(0, 3, n) + 1][trial % 3]
        labels = None
        if trial % 4 == 0:
            labels = np.unique(np.concatenate([y_true, y_pred]))[::-1][: k - 1]
        for normalize in [None, "true", "pred", "all"]:
            kw = dict(labels=labels, sample_weight=sw, normalize=normalize)
            ours = _run(T.confusion_matrix, y_true, y_pred, **kw)
            theirs = _run(S.confusion_matrix, y_true, y_pred, **kw)
            assert ours[1] == theirs[1]
            if isinstance(theirs[0], tuple):
                assert ours[0] == theirs[0]
            else:
                assert ours[0].dtype == theirs[0].dtype and np.array_equal(ours[0], theirs[0])


def test_confusion_matrix_label_errors_match_sklearn():
    for labels in ([], [7]):
        ours, theirs = (_run(m.confusion_matrix, [0, 1], [1, 1], labels=labels) for m in (T, S))
        assert ours == theirs
    ours, theirs = (_run(m.confusion_matrix, [3, 3], [3, 3]) for m in (T, S))
    assert np.array_equal(ours[0], theirs[0]) and ours[1] == theirs[1]  # the 1x1 warning


# --- classification report ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"digits": 4}, {"labels": [2, 0]}, {"target_names": ["x", "y", "zed"]},
     {"output_dict": True}, {"labels": [0, 1], "output_dict": True}],
)  # fmt: skip
def test_classification_report_matches_sklearn(kwargs):
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    ours = T.classification_report(y_true, y_pred, **kwargs)
    theirs = S.classification_report(y_true, y_pred, **kwargs)
    assert ours == theirs


def test_classification_report_on_iris_strings():
    iris = load_iris()
    names = np.array(["setosa", "versicolor", "virginica"])
    y_true = names[iris.y]
    y_pred = names[np.roll(iris.y, 7)]
    assert T.classification_report(y_true, y_pred) == S.classification_report(y_true, y_pred)


# --- log loss -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_matches_sklearn(dtype):
    rng = np.random.default_rng(4)
    for k in [2, 3, 5]:
        y_true = rng.integers(0, k, 60)
        proba = rng.random((60, k)).astype(dtype) ** 4  # some near-zero probabilities
        proba /= proba.sum(axis=1, keepdims=True)
        sw = rng.random(60)
        for kw in [{}, {"normalize": False}, {"sample_weight": sw},
                   {"sample_weight": sw, "normalize": False}]:  # fmt: skip
            assert T.log_loss(y_true, proba, **kw) == S.log_loss(y_true, proba, **kw)


def test_log_loss_binary_strings_1d_and_labels():
    y = ["spam", "ham", "ham", "spam"]
    p = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]
    assert T.log_loss(y, p) == S.log_loss(y, p)
    p1 = np.array([0.9, 0.1, 0.0, 1.0])  # exact 0 and 1 are clipped, not log(0)
    assert np.isfinite(T.log_loss([1, 0, 0, 1], p1))
    assert T.log_loss([1, 0, 0, 1], p1) == S.log_loss([1, 0, 0, 1], p1)
    p3 = np.full((2, 3), 1 / 3)
    assert T.log_loss([0, 1], p3, labels=[0, 1, 2]) == S.log_loss([0, 1], p3, labels=[0, 1, 2])


def test_log_loss_eps():
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    want = -(np.log(1e-3) + np.log(1 - 1e-3)) / 2  # 0 clipped up to eps, 1 down to 1 - eps
    assert T.log_loss([1, 1], p, labels=[0, 1], eps=1e-3) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(
    "y_true, y_proba, kwargs",
    [
        ([0, 1], [[0.5, 0.5], [0.2, 0.9]], {}),  # rows do not sum to one: a warning
        ([0, 0], [0.5, 0.5], {}),
        ([0, 0], [0.5, 0.5], {"labels": [0]}),
        ([0, 1, 2], [0.5, 0.5, 0.3], {}),
        ([0, 1, 2], [[0.5, 0.5]] * 3, {"labels": [0, 1, 2]}),
        ([0, 1, 3], [[0.5, 0.5, 0.0]] * 3, {"labels": [0, 1, 2]}),
        ([0, 1], [[0.5, 0.5], [0.2, 0.8]], {"labels": [1, 0]}),
        ([0, 1], [[1.5, -0.5], [0.2, 0.8]], {}),
        ([0, 1], [[0.5, 0.5], [-0.2, 1.2]], {}),
    ],
)
def test_log_loss_errors_and_warnings_match_sklearn(y_true, y_proba, kwargs):
    ours = _run(T.log_loss, y_true, y_proba, **kwargs)
    theirs = _run(S.log_loss, y_true, y_proba, **kwargs)
    assert _same(ours[0], theirs[0]), (ours, theirs)
    assert ours[1] == theirs[1]


def test_log_loss_refuses_nan():
    with pytest.raises(ValueError, match="Input y_proba contains NaN"):
        T.log_loss([0, 1], [[0.5, 0.5], [np.nan, 0.5]])


# --- silhouette -----------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "l1", "l2", "cityblock"])
def test_silhouette_matches_sklearn(metric):
    rng = np.random.default_rng(5)
    for k in [2, 3, 6]:
        X = rng.normal(size=(80, 4)) + rng.integers(0, k, 80)[:, None]
        labels = rng.integers(0, k, 80)
        labels[:k] = np.arange(k)
        labels[-1] = k  # a singleton cluster scores 0
        ours = T.silhouette_samples(X, labels, metric=metric)
        np.testing.assert_allclose(ours, S.silhouette_samples(X, labels, metric=metric),
                                   rtol=1e-10, atol=1e-12)  # fmt: skip
        assert T.silhouette_score(X, labels, metric=metric) == pytest.approx(
            S.silhouette_score(X, labels, metric=metric), rel=1e-12, abs=1e-13
        )


def test_silhouette_on_iris_string_labels_and_precomputed():
    iris = load_iris()
    X, names = iris.X, np.array(["a", "b", "c"])[iris.y]
    assert T.silhouette_score(X, names) == pytest.approx(S.silhouette_score(X, names), rel=1e-12)
    D = S.pairwise_distances(X)
    assert T.silhouette_score(D, iris.y, metric="precomputed") == pytest.approx(
        S.silhouette_score(D, iris.y, metric="precomputed"), rel=1e-12
    )


def test_silhouette_chunks_agree_with_one_block(monkeypatch):
    rng = np.random.default_rng(6)
    X, labels = rng.normal(size=(50, 3)), rng.integers(0, 3, 50)
    whole = T.silhouette_samples(X, labels)
    monkeypatch.setattr("theta.pairwise.WORKING_MEMORY_MIB", 8 * 50 * 7 / 2**20)  # 7 rows a chunk
    np.testing.assert_allclose(T.silhouette_samples(X, labels), whole, rtol=0, atol=1e-15)


def test_silhouette_sample_size_is_seeded_subset():
    rng = np.random.default_rng(7)
    X, labels = rng.normal(size=(100, 2)), rng.integers(0, 3, 100)
    a = T.silhouette_score(X, labels, sample_size=40, random_state=0)
    assert a == T.silhouette_score(X, labels, sample_size=40, random_state=0)
    idx = np.random.default_rng(0).permutation(100)[:40]
    assert a == pytest.approx(S.silhouette_score(X[idx], labels[idx]), rel=1e-12)


def test_silhouette_errors_match_sklearn():
    for labels in ([0, 0, 0], [0, 1, 2]):
        ours, theirs = (_run(m.silhouette_score, [[0.0], [1.0], [2.0]], labels) for m in (T, S))
        assert ours == theirs
    D = np.ones((3, 3))
    ours, theirs = (_run(m.silhouette_score, D, [0, 0, 1], metric="precomputed") for m in (T, S))
    assert ours == theirs
    with pytest.raises(ValueError, match="NaN"):
        T.silhouette_score([[0.0], [np.nan], [2.0], [3.0]], [0, 0, 1, 1])
    with pytest.raises(InvalidParameterError, match="'metric' parameter"):
        T.silhouette_score([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1], metric="chebyshev")


# --- the registry ---------------------------------------------------------------------------


def test_get_metric_knows_the_new_names():
    y_true, y_pred = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    for name in ["precision", "recall", "f1"]:
        for average in ["macro", "micro", "weighted"]:
            want = getattr(S, f"{name}_score")(y_true, y_pred, average=average)
            assert T.get_metric(f"{name}_{average}")(y_true, y_pred) == pytest.approx(want)
    assert T.get_metric("f1")([0, 1, 1], [0, 1, 0]) == S.f1_score([0, 1, 1], [0, 1, 0])
    assert T.get_metric("accuracy")([0, 1], [0, 0]) == 0.5
    with pytest.raises(ValueError, match="unknown metric"):
        T.get_metric("f2")


def test_existing_metrics_keep_their_behaviour():
    assert T.accuracy_score(["a", "b"], ["a", "a"]) == 0.5
    assert T.mean_squared_error([1.0, 3.0], [2.0, 3.0]) == 0.5
    assert T.mean_absolute_error([1.0, 3.0], [2.0, 3.0]) == 0.5
    assert T.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
