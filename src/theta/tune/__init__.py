"""Model selection: cross-validation and hyperparameter searches for every knob in theta.

Splitters (``KFold``, ``StratifiedKFold``, ``ShuffleSplit``) and ``cross_validate`` measure
one configuration; ``GridSearch``, ``RandomSearch``, ``SuccessiveHalving`` and
``BayesSearch`` compare many, through ``get_params``/``set_params``/``clone``, so they tune
estimators, RL agents and kNN index knobs alike. Trials run here, on local worker processes
(``n_jobs``) or on an existing Dask cluster (``backend="dask", scheduler="tcp://..."``), with
the same results for the same seed; failed trials are recorded, not fatal, and a ``storage``
folder lets a search resume where it stopped.
"""

from theta.tune.bayes import BayesSearch
from theta.tune.cross_val import cross_val_score, cross_validate
from theta.tune.halving import SuccessiveHalving
from theta.tune.scoring import Scorer, check_scoring
from theta.tune.search import BaseSearch, GridSearch, RandomSearch
from theta.tune.spaces import (
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    ParameterGrid,
    ParameterSampler,
    Uniform,
)
from theta.tune.split import KFold, ShuffleSplit, StratifiedKFold, check_cv

__all__ = [
    "BaseSearch",
    "BayesSearch",
    "Choice",
    "Distribution",
    "GridSearch",
    "IntUniform",
    "KFold",
    "LogUniform",
    "ParameterGrid",
    "ParameterSampler",
    "RandomSearch",
    "Scorer",
    "ShuffleSplit",
    "StratifiedKFold",
    "SuccessiveHalving",
    "Uniform",
    "check_cv",
    "check_scoring",
    "cross_val_score",
    "cross_validate",
]
