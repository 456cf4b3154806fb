"""scikit-learn's own ``check_estimator`` suite, run over every theta estimator."""

import warnings

import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from theta.estimators import all_estimators  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning"),
    pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from:UserWarning"),
    # iterative learners stop at max_iter on the checks' tiny problems; scikit-learn's own
    # test_common ignores ConvergenceWarning for the same reason
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


# Collecting the checks warns about the base class too, outside ``pytestmark``'s reach.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Estimator .* does not inherit from", UserWarning)
    _checks = parametrize_with_checks([cls() for cls in all_estimators()])


@_checks
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


# scikit-learn runs these in its own test_common only (``parametrize_with_checks`` does not
# yield them): feature names recorded at fit and checked wherever X comes back.
_name_checks = pytest.mark.parametrize(
    "estimator", [cls() for cls in all_estimators()], ids=lambda e: type(e).__name__
)


@_name_checks
def test_sklearn_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator",
    [cls() for cls in all_estimators() if hasattr(cls, "get_feature_names_out")],
    ids=lambda e: type(e).__name__,
)
def test_sklearn_get_feature_names_out(estimator):
    pytest.importorskip("pandas")
    from sklearn.utils import estimator_checks as checks

    name = type(estimator).__name__
    checks.check_get_feature_names_out_error(name, estimator)
    checks.check_transformer_get_feature_names_out(name, estimator)
    checks.check_transformer_get_feature_names_out_pandas(name, estimator)
