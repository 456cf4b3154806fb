"""StandardScaler, MinMaxScaler, OneHotEncoder and PolynomialFeatures against scikit-learn's."""

import warnings

import numpy as np
import pytest

from theta.data import load_diabetes, load_iris
from theta.errors import InvalidParameterError, NotFittedError
from theta.estimators.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

skp = pytest.importorskip("sklearn.preprocessing")


def _data(rng, dtype=np.float64, n=40, d=5):
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 100, d) + rng.uniform(-50, 50, d)
    X[:, 1] = 3.25  # a constant feature
    return X.astype(dtype)


def _same_attrs(ours, theirs, names, exact=True):
    for name in names:
        a, b = getattr(ours, name), getattr(theirs, name)
        if b is None:
            assert a is None, name
        elif exact:
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


# --- StandardScaler -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_mean, with_std", [(True, True), (False, True), (True, False),
                                                 (False, False)])  # fmt: skip
def test_standard_scaler_equals_sklearn(rng, dtype, with_mean, with_std):
    X, X_new = _data(rng, dtype), _data(rng, dtype, n=7)
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    theirs = skp.StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    _same_attrs(ours, theirs, ["mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_"])
    out = ours.transform(X_new)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, theirs.transform(X_new))
    np.testing.assert_array_equal(ours.inverse_transform(out), theirs.inverse_transform(out))


def test_standard_scaler_sample_weight_equals_sklearn(rng):
    X, w = _data(rng), rng.uniform(0, 3, 40)
    ours = StandardScaler().fit(X, sample_weight=w)
    theirs = skp.StandardScaler().fit(X, sample_weight=w)
    _same_attrs(ours, theirs, ["mean_", "var_", "scale_", "n_samples_seen_"], exact=False)
    # integer weights are the same as repeating samples
    w_int = rng.integers(1, 4, 40)
    repeated = StandardScaler().fit(np.repeat(X, w_int, axis=0))
    weighted = StandardScaler().fit(X, sample_weight=w_int)
    np.testing.assert_allclose(weighted.mean_, repeated.mean_, rtol=1e-12)
    np.testing.assert_allclose(weighted.var_, repeated.var_, rtol=1e-10)


def test_standard_scaler_bad_sample_weight(rng):
    X = _data(rng, n=4)
    for weights, match in [([1.0, np.nan, 1.0, 1.0], "Input sample_weight contains NaN"),
                           ([1.0, np.inf, 1.0, 1.0], "Input sample_weight contains infinity"),
                           ([1.0, 2.0], r"sample_weight.shape == \(2,\), expected \(4,\)!"),
                           ([0.0] * 4, "at least one non-zero")]:  # fmt: skip
        scaler = StandardScaler().fit(X)
        with pytest.raises(ValueError, match=match):
            scaler.fit(X * 2, sample_weight=weights)
        np.testing.assert_array_equal(scaler.mean_, X.mean(axis=0))  # the old fit is intact


def test_standard_scaler_partial_fit_equals_sklearn(rng):
    X = _data(rng, n=90)
    ours, theirs = StandardScaler(), skp.StandardScaler()
    for batch in np.array_split(X, [10, 45]):
        ours.partial_fit(batch)
        theirs.partial_fit(batch)
    _same_attrs(ours, theirs, ["mean_", "var_", "scale_", "n_samples_seen_"], exact=False)
    whole = StandardScaler().fit(X)
    np.testing.assert_allclose(ours.var_, whole.var_, rtol=1e-12, atol=1e-12)


def test_standard_scaler_constant_features_give_finite_output_without_warnings():
    X = np.array([[1.0, 0.0, 1e10], [1.0, 1.0, 1e10], [1.0, 2.0, 1e10]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = StandardScaler().fit(X)
        out = scaler.transform(X)
    assert scaler.scale_[0] == 1.0 and scaler.scale_[2] == 1.0
    assert np.isfinite(out).all() and np.all(out[:, [0, 2]] == 0.0)
    # a feature that is constant up to rounding noise counts as constant, as in scikit-learn
    noisy = np.full((50, 1), 0.1) + np.array([0.0, 1e-17] * 25)[:, None]
    np.testing.assert_array_equal(StandardScaler().fit(noisy).scale_,
                                  skp.StandardScaler().fit(noisy).scale_)  # fmt: skip


def test_standard_scaler_on_diabetes_and_int_input():
    X = load_diabetes().X
    np.testing.assert_array_equal(StandardScaler().fit_transform(X),
                                  skp.StandardScaler().fit_transform(X))  # fmt: skip
    ints = np.arange(12).reshape(4, 3)
    out = StandardScaler().fit_transform(ints)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, skp.StandardScaler().fit_transform(ints))


# --- MinMaxScaler -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1), (-3.5, 10.0)])
@pytest.mark.parametrize("clip", [False, True])
def test_min_max_scaler_equals_sklearn(rng, dtype, feature_range, clip):
    X, X_new = _data(rng, dtype), _data(rng, dtype, n=9) * 2
    ours = MinMaxScaler(feature_range, clip=clip).fit(X)
    theirs = skp.MinMaxScaler(feature_range=feature_range, clip=clip).fit(X)
    names = ["data_min_", "data_max_", "data_range_", "scale_", "min_", "n_samples_seen_"]
    _same_attrs(ours, theirs, names)
    out = ours.transform(X_new)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, theirs.transform(X_new))
    np.testing.assert_array_equal(ours.inverse_transform(out), theirs.inverse_transform(out))


def test_min_max_scaler_constant_feature_and_partial_fit(rng):
    X = _data(rng, n=60)
    ours, theirs = MinMaxScaler(), skp.MinMaxScaler()
    for batch in np.array_split(X, 3):
        ours.partial_fit(batch)
        theirs.partial_fit(batch)
    _same_attrs(ours, theirs, ["data_min_", "data_max_", "scale_", "min_", "n_samples_seen_"])
    assert ours.transform(X)[:, 1].tolist() == [0.0] * 60  # the constant feature maps to min


def test_min_max_scaler_iris_matches_sklearn():
    X = load_iris().X
    np.testing.assert_array_equal(MinMaxScaler().fit_transform(X),
                                  skp.MinMaxScaler().fit_transform(X))  # fmt: skip


def test_min_max_scaler_bad_feature_range():
    with pytest.raises(ValueError, match=r"Minimum of desired feature range must be smaller "
                                         r"than maximum. Got \(1, 0\)."):  # fmt: skip
        MinMaxScaler((1, 0)).fit([[0.0], [1.0]])
    with pytest.raises(InvalidParameterError, match="'feature_range' parameter"):
        MinMaxScaler([0, 1]).fit([[0.0], [1.0]])


# --- both scalers: the contract -----------------------------------------------------------


@pytest.mark.parametrize("Scaler", [StandardScaler, MinMaxScaler])
def test_scalers_refuse_bad_input_and_keep_it_unchanged(Scaler, rng):
    X = _data(rng)
    before = X.copy()
    scaler = Scaler().fit(X)
    scaler.transform(X)
    np.testing.assert_array_equal(X, before)
    for bad, match in [([[np.nan, 1.0]], "NaN"), ([[np.inf, 1.0]], "infinity"),
                       ([1.0, 2.0], "Reshape"), (np.empty((0, 5)), "0 sample")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            Scaler().fit(bad)
    with pytest.raises(ValueError, match=f"X has 2 features, but {Scaler.__name__} is expecting 5"):
        scaler.transform(X[:, :2])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Scaler().transform(X)
    assert scaler.get_feature_names_out().tolist() == ["x0", "x1", "x2", "x3", "x4"]


def test_refit_forgets_earlier_fit(rng):
    scaler = StandardScaler().fit(_data(rng, d=5))
    scaler.fit(_data(rng, d=2))
    assert scaler.n_features_in_ == 2 and scaler.mean_.shape == (2,)
    mm = MinMaxScaler().fit([[0.0], [10.0]]).fit([[0.0], [1.0]])
    assert mm.data_max_.tolist() == [1.0] and mm.n_samples_seen_ == 2


def test_scaler_inside_sklearn_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    iris = load_iris()
    ours = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    theirs = make_pipeline(skp.StandardScaler(), LogisticRegression(max_iter=500))
    np.testing.assert_allclose(cross_val_score(ours, iris.X, iris.y, cv=3),
                               cross_val_score(theirs, iris.X, iris.y, cv=3))  # fmt: skip


# --- OneHotEncoder ------------------------------------------------------------------------

CATEGORICAL = {
    "ints": np.array([[1, 10], [2, 10], [1, 30], [3, 20]]),
    "floats_nan": np.array([[1.5, np.nan], [np.nan, 2.0], [1.5, 2.0], [0.5, np.nan]]),
    "str_array": np.array([["b", "x"], ["a", "yy"], ["b", "x"], ["c", "x"]]),
    "str_list": [["b", "x"], ["a", "yy"], ["b", "x"], ["c", "x"]],
    "object_missing": np.array([["b", None], ["a", np.nan], [None, "x"], ["a", "x"]], dtype=object),
    "mixed_columns": np.array([["red", 1], ["green", 2], ["red", 3], ["blue", 1]], dtype=object),
    "bools": np.array([[True], [False], [True]]),
}


def _encoders(**params):
    return OneHotEncoder(**params), skp.OneHotEncoder(sparse_output=False, **params)


def _assert_same_categories(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype
        assert [repr(v) for v in a.tolist()] == [repr(v) for v in b.tolist()]  # NaN == NaN here


@pytest.mark.parametrize("name", list(CATEGORICAL))
@pytest.mark.parametrize("drop", [None, "first", "if_binary"])
def test_one_hot_equals_sklearn(name, drop):
    X = CATEGORICAL[name]
    ours, theirs = (enc.fit(X) for enc in _encoders(drop=drop))
    _assert_same_categories(ours.categories_, theirs.categories_)
    assert (ours.drop_idx_ is None) == (theirs.drop_idx_ is None)
    if ours.drop_idx_ is not None:
        assert ours.drop_idx_.tolist() == theirs.drop_idx_.tolist()
    out = ours.transform(X)
    np.testing.assert_array_equal(out, theirs.transform(X))
    assert out.dtype == np.float64
    assert ours.get_feature_names_out().tolist() == theirs.get_feature_names_out().tolist()
    back, want = ours.inverse_transform(out), theirs.inverse_transform(out)
    assert back.dtype == want.dtype
    assert [repr(v) for v in back.ravel().tolist()] == [repr(v) for v in want.ravel().tolist()]


@pytest.mark.parametrize("handle_unknown", ["ignore", "warn"])
@pytest.mark.parametrize("drop", [None, "first"])
def test_one_hot_unknown_categories_like_sklearn(handle_unknown, drop):
    X, X_new = CATEGORICAL["str_array"], np.array([["z", "x"], ["a", "q"]])
    ours, theirs = (enc.fit(X) for enc in _encoders(handle_unknown=handle_unknown, drop=drop))
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        out = ours.transform(X_new)
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        want = theirs.transform(X_new)
    np.testing.assert_array_equal(out, want)
    assert len(ours_warned) == len(theirs_warned) == (handle_unknown == "warn" or drop is not None)
    # scikit-learn's "warn" text speaks of an infrequent category; theta's says what happens
    assert all(str(w.message).endswith("encoded as all zeros") for w in ours_warned)
    back, want_back = ours.inverse_transform(out), theirs.inverse_transform(want)
    assert back.tolist() == want_back.tolist()


def test_one_hot_unknown_category_error_names_column_and_value():
    for X, X_new in [(CATEGORICAL["ints"], [[1, 99]]), (CATEGORICAL["str_list"], [["a", "q"]]),
                     (CATEGORICAL["floats_nan"], [[7.0, 2.0]])]:  # fmt: skip
        ours, theirs = (enc.fit(X) for enc in _encoders())
        with pytest.raises(ValueError) as expected:
            theirs.transform(X_new)
        with pytest.raises(ValueError, match="Found unknown categories") as got:
            ours.transform(X_new)
        assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match=r"Found unknown categories \['q'\] in column 1"):
        OneHotEncoder().fit([["a", "x"]]).transform([["a", "q"]])


def test_one_hot_given_categories_and_their_errors():
    X = np.array([[1, "a"], [2, "b"]], dtype=object)
    cats = [[1, 2, 3], ["a", "b", "c"]]
    ours, theirs = (enc.fit(X) for enc in _encoders(categories=cats))
    _assert_same_categories(ours.categories_, theirs.categories_)
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(X))
    ints = np.array([[1], [2]])
    for categories in ([[2, 1]], [[1, 1, 2]], [[1]], [[1, 2], [3]], [[np.nan, 1.0]]):
        X_cat = ints.astype(float) if np.isnan(np.asarray(categories[0], float)).any() else ints
        with pytest.raises(ValueError) as expected:
            skp.OneHotEncoder(categories=categories).fit(X_cat)
        with pytest.raises(ValueError) as got:
            OneHotEncoder(categories=categories).fit(X_cat)
        assert str(got.value) == str(expected.value)


def test_one_hot_dtype_and_input_feature_names():
    enc = OneHotEncoder(dtype=np.int8).fit(CATEGORICAL["mixed_columns"])
    assert enc.transform(CATEGORICAL["mixed_columns"]).dtype == np.int8
    names = enc.get_feature_names_out(["colour", "size"]).tolist()
    assert names == ["colour_blue", "colour_green", "colour_red", "size_1", "size_2", "size_3"]
    with pytest.raises(ValueError, match="input_features should have length equal"):
        enc.get_feature_names_out(["colour"])


def test_one_hot_bad_input():
    with pytest.raises(ValueError, match="sparse_output=True is not supported"):
        OneHotEncoder(sparse_output=True).fit([[1]])
    with pytest.raises(TypeError, match="uniformly strings or numbers"):
        OneHotEncoder().fit(np.array([["a"], [1]], dtype=object))
    with pytest.raises(ValueError, match="infinity"):
        OneHotEncoder().fit([[1.0], [np.inf]])
    with pytest.raises(ValueError, match="Reshape"):
        OneHotEncoder().fit(["a", "b"])
    enc = OneHotEncoder().fit([["a", "x"]])
    with pytest.raises(ValueError, match="X has 1 features, but OneHotEncoder is expecting 2"):
        enc.transform([["a"]])
    with pytest.raises(ValueError, match="Expected 2 columns, got 3"):
        enc.inverse_transform([[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="can not be inverted when drop=None"):
        OneHotEncoder().fit([["a"], ["b"]]).inverse_transform([[0.0, 0.0]])
    with pytest.raises(InvalidParameterError, match="'handle_unknown' parameter"):
        OneHotEncoder(handle_unknown="infrequent_if_exist").fit([[1]])


# --- PolynomialFeatures -------------------------------------------------------------------


@pytest.mark.parametrize("degree", [0, 1, 2, 3, 4, (0, 2), (2, 3), (3, 3), (1, 1)])
@pytest.mark.parametrize("interaction_only", [False, True])
@pytest.mark.parametrize("include_bias", [True, False])
@pytest.mark.parametrize("n_features", [1, 3, 4])
def test_polynomial_equals_sklearn(rng, degree, interaction_only, include_bias, n_features):
    params = dict(degree=degree, interaction_only=interaction_only, include_bias=include_bias)
    X = rng.normal(size=(6, n_features))
    ours, theirs = PolynomialFeatures(**params), skp.PolynomialFeatures(**params)
    try:
        theirs.fit(X)
    except ValueError as expected:
        with pytest.raises(ValueError, match="empty output array"):
            ours.fit(X)
        assert "empty output array" in str(expected)
        return
    ours.fit(X)
    assert ours.n_output_features_ == theirs.n_output_features_
    if ours.n_output_features_ == 0:  # e.g. only interactions of degree >= 2 of one feature
        assert ours.transform(X).shape == (6, 0) and ours.powers_.shape == (0, n_features)
        return
    np.testing.assert_array_equal(ours.powers_, theirs.powers_)
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(X))
    names = ours.get_feature_names_out(["a", "b", "c", "d"][:n_features]).tolist()
    assert names == theirs.get_feature_names_out(["a", "b", "c", "d"][:n_features]).tolist()


def test_polynomial_keeps_float32_and_names():
    X = np.array([[2.0, 3.0]], dtype=np.float32)
    poly = PolynomialFeatures(3).fit(X)
    assert poly.transform(X).dtype == np.float32
    assert poly.get_feature_names_out().tolist() == [
        "1", "x0", "x1", "x0^2", "x0 x1", "x1^2", "x0^3", "x0^2 x1", "x0 x1^2", "x1^3",
    ]  # fmt: skip
    assert PolynomialFeatures().fit([[1, 2]]).transform([[1, 2]]).dtype == np.float64


@pytest.mark.parametrize("degree", [(3, 2), (-1, 2), (1, 2, 3), (1.0, 2)])
def test_polynomial_bad_degree_tuples(degree):
    with pytest.raises(ValueError) as expected:
        skp.PolynomialFeatures(degree).fit([[1.0]])
    with pytest.raises(ValueError) as got:
        PolynomialFeatures(degree).fit([[1.0]])
    assert str(got.value) == str(expected.value)


def test_polynomial_bad_degree_values():
    for degree in (-1, 2.5, "2"):
        with pytest.raises(InvalidParameterError, match="'degree' parameter"):
            PolynomialFeatures(degree).fit([[1.0]])
    with pytest.raises(NotFittedError):
        PolynomialFeatures().powers_  # noqa: B018 - the property itself checks
    with pytest.raises(ValueError, match="X has 1 features, but PolynomialFeatures is expecting 2"):
        PolynomialFeatures().fit([[1.0, 2.0]]).transform([[1.0]])
