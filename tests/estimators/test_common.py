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
