"""scikit-learn's own ``check_estimator`` suite, run over every theta estimator."""

import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from theta.estimators import all_estimators  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning"),
    pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from:UserWarning"),
]


@parametrize_with_checks([cls() for cls in all_estimators()])
def test_sklearn_check_estimator(estimator, check):
    check(estimator)
