"""Splitters: unshuffled folds equal scikit-learn's; shuffled ones are seeded and partition."""

import numpy as np
import pytest

from theta.errors import InvalidParameterError
from theta.tune import KFold, ShuffleSplit, StratifiedKFold, check_cv

model_selection = pytest.importorskip("sklearn.model_selection")


def _folds(splitter, X, y=None):
    return [(train.tolist(), test.tolist()) for train, test in splitter.split(X, y)]


@pytest.mark.parametrize("n_samples, n_splits", [(10, 2), (11, 3), (17, 5), (5, 5)])
def test_kfold_equals_sklearn(n_samples, n_splits):
    X = np.zeros((n_samples, 2))
    assert _folds(KFold(n_splits), X) == _folds(model_selection.KFold(n_splits), X)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_kfold_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"], size=37, p=[0.5, 0.3, 0.2])
    X = np.zeros((len(y), 1))
    ours = _folds(StratifiedKFold(4), X, y)
    assert ours == _folds(model_selection.StratifiedKFold(4), X, y)


def test_stratified_kfold_warns_and_refuses_like_sklearn():
    y = np.array([0] * 10 + [1] * 2)
    with pytest.warns(UserWarning, match="only 2 members, which is less than n_splits=3"):
        list(StratifiedKFold(3).split(y, y))
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        list(StratifiedKFold(3).split(np.zeros(4), [0, 0, 1, 1]))
    with pytest.raises(ValueError, match="needs the class labels"):
        list(StratifiedKFold(2).split(np.zeros(4)))


@pytest.mark.parametrize(
    "splitter",
    [KFold(4, shuffle=True, random_state=3), StratifiedKFold(4, shuffle=True, random_state=3)],
)
def test_shuffled_folds_partition_and_repeat_with_the_seed(splitter):
    y = np.repeat([0, 1], 10)
    folds = _folds(splitter, y, y)
    tests = sorted(i for _, test in folds for i in test)
    assert tests == list(range(20))
    assert all(sorted(train + test) == list(range(20)) for train, test in folds)
    assert folds == _folds(splitter, y, y)
    assert folds != _folds(type(splitter)(4), y, y)
    if isinstance(splitter, StratifiedKFold):
        assert all(sum(y[test]) in (2, 3) for _, test in folds)


def test_shuffle_split_sizes_match_sklearn():
    X = np.zeros((23, 1))
    for kwargs in ({}, {"test_size": 0.3}, {"test_size": 5, "train_size": 10}):
        ours = [(len(a), len(b)) for a, b in ShuffleSplit(3, random_state=0, **kwargs).split(X)]
        theirs = [
            (len(a), len(b))
            for a, b in model_selection.ShuffleSplit(3, random_state=0, **kwargs).split(X)
        ]
        assert ours == theirs
    a, b = next(ShuffleSplit(1, test_size=0.5, random_state=0).split(X))
    assert not set(a) & set(b)


def test_bad_splitters_and_check_cv():
    with pytest.raises(InvalidParameterError, match="'n_splits' parameter of KFold"):
        KFold(1)
    with pytest.raises(ValueError, match="n_splits=4 greater than the number of samples"):
        list(KFold(4).split(np.zeros(3)))
    assert isinstance(check_cv(3, [0, 1] * 5, classifier=True), StratifiedKFold)
    assert type(check_cv(3, [0.5, 1.5] * 5, classifier=True)) is KFold
    assert type(check_cv(3, [0, 1] * 5)) is KFold
    pairs = [(np.array([0, 1]), np.array([2])), (np.array([2]), np.array([0, 1]))]
    assert check_cv(pairs).get_n_splits() == 2
    with pytest.raises(InvalidParameterError, match="cv must be an int"):
        check_cv("five")
