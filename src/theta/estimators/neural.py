"""Neural networks as scikit-learn estimators, trained by theta's own loop.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's names and meanings: the same
initialisation (Glorot uniform), the same per-batch objective (data loss plus
``0.5 * alpha * ||W||² / n_batch``), the same stopping rule and the same attributes. Under
the hood each is a :class:`theta.nn.MLP` trained by :class:`theta.train.Trainer` with
:mod:`theta.losses` and :mod:`theta.optim`, so the chapter's four steps are the ones that run.

``ModuleRegressor`` and ``ModuleClassifier`` turn *any* theta ``Module`` plus a loss into a
scikit-learn estimator. The module given is the initial model: ``fit`` trains a deep copy,
so the module passed in is never changed and every fit (and every clone in a search)
starts from the same initial parameters.

Numbers: the MLPs train in float32 (half the memory traffic of scikit-learn's float64, the
same accuracy) and predict in float64 from the learned float32 weights, so predictions do
not depend on how the rows are batched. The module estimators train and predict in their
module's dtype and return float64.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

import numpy as np

from theta.data import train_val_split
from theta.errors import ConvergenceWarning, DivergenceError, sklearn_twin
from theta.estimators.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    binary_log_proba,
    check_classification_targets,
    check_is_fitted,
    class_index,
    module_output,
    parameter_dtype,
)  # fmt: skip
from theta.losses import binary_cross_entropy_with_logits, cross_entropy, get_loss, mse
from theta.metrics import accuracy_score, r2_score
from theta.nn import MLP, Linear, Module
from theta.optim import SGD, Adam
from theta.rng import check_random_state
from theta.special import log_softmax, softmax
from theta.train import Callback, DivergenceGuard, Trainer
from theta.validation import Each, Interval, Options, check_X_y, column_or_1d, feature_names

__all__ = ["MLPClassifier", "MLPRegressor", "ModuleClassifier", "ModuleRegressor"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "gelu": "gelu", "sigmoid": "sigmoid",
                "logistic": "sigmoid"}  # fmt: skip


# --- the pieces both kinds of estimator train with ----------------------------------------


class _Objective:
    """scikit-learn's per-batch objective: ``scale * data_loss + 0.5*alpha*||W||²/n_batch``.

    The penalty's gradient, ``alpha * W / n_batch``, is applied by the optimizer's weight
    decay on the weight matrices (biases are not penalised), set here for each batch because
    the last batch of an epoch may be smaller; the penalty's value (kept in ``penalty``, not
    built into the graph: its gradient is the decay's) is added to the recorded loss, so
    ``loss_curve_`` reports the objective scikit-learn reports. With ``adam_eps`` the
    optimizer's ``eps`` is also set per step to ``adam_eps / sqrt(1 - beta_2**t)``:
    scikit-learn adds epsilon to the square root of the second moment *before* its bias
    correction, theta (as PyTorch) after it, and this rescaling makes the two steps equal.
    """

    def __init__(self, data_loss: Any, scale: float, alpha: float, optimizer: Any,
                 adam_eps: float | None = None) -> None:  # fmt: skip
        self.data_loss, self.scale, self.alpha = data_loss, scale, alpha
        self.groups, self.adam_eps, self.t = optimizer.param_groups, adam_eps, 0
        self.penalty = 0.0  # of the last batch; added to the recorded loss, not to the graph

    def __call__(self, pred: Any, target: np.ndarray) -> Any:
        self.t += 1
        if self.adam_eps is not None:
            beta_2 = self.groups[0]["betas"][1]
            for group in self.groups:
                group["eps"] = self.adam_eps / math.sqrt(1.0 - beta_2**self.t)
        if self.alpha:
            n, weights = len(target), self.groups[0]
            weights["weight_decay"] = self.alpha / n
            squares = sum(float(np.vdot(w.data, w.data)) for w in weights["params"])
            self.penalty = 0.5 * self.alpha * squares / n
        loss = self.data_loss(pred, target)
        return loss * self.scale if self.scale != 1.0 else loss


class _Recorder(Callback):
    """Per-epoch loss (sample-weighted, as scikit-learn's) and scikit-learn's stopping rule.

    Stop once the training loss has not dropped by ``tol`` (or, given ``score``, the
    validation score has not risen by ``tol``) for more than ``n_iter_no_change`` epochs.
    ``tol=None`` records the loss and never stops.
    """

    def __init__(self, n_samples: int, tol: float | None = None, n_iter_no_change: int = 10,
                 score: Any = None, objective: _Objective | None = None) -> None:  # fmt: skip
        self.n_samples, self.tol, self.patience = n_samples, tol, n_iter_no_change
        self.score, self.objective = score, objective
        self.loss_curve: list[float] = []
        self.validation_scores: list[float] = []
        self.best_loss, self.best_score = math.inf, -math.inf
        self.best_state: dict[str, np.ndarray] | None = None
        self.stalled, self.converged, self._total = 0, False, 0.0

    def on_step_end(self, trainer: Trainer, result: Any) -> None:
        penalty = self.objective.penalty if self.objective is not None else 0.0
        self._total += (result.loss + penalty) * result.pred.shape[0]

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        loss, self._total = self._total / self.n_samples, 0.0
        self.loss_curve.append(loss)
        if self.tol is None:
            return
        if self.score is not None:
            value = self.score(trainer.model)
            self.validation_scores.append(value)
            stalled, what = value < self.best_score + self.tol, "Validation score"
            if value > self.best_score:
                self.best_score, self.best_state = value, trainer.model.state_dict()
        else:
            stalled, what = loss > self.best_loss - self.tol, "Training loss"
            self.best_loss = min(self.best_loss, loss)
        self.stalled = self.stalled + 1 if stalled else 0
        if self.stalled > self.patience:
            trainer.stop_training, self.converged = True, True
            trainer.history.stopped_reason = (
                f"{what} did not improve more than tol={self.tol:f} for {self.patience} "
                "consecutive epochs."
            )


def _train(estimator: BaseEstimator, lr_name: str, model: Module, X: np.ndarray,
           y: np.ndarray, *, loss: Any, optimizer: Any, batch_size: int | None, shuffle: bool,
           rng: np.random.Generator, epochs: int, recorder: _Recorder) -> None:  # fmt: skip
    """Run the loop: Trainer converts X and y once, then slices batches from them.

    theta.train's divergence guard stops a loss that turns NaN/inf or explodes (without
    copying the parameters each step: a diverged model is thrown away); the error
    names the estimator's learning-rate parameter ``lr_name`` and a smaller value to try.
    It is raised before the estimator's state changes.
    """
    lr = getattr(estimator, lr_name)
    # overflow (also in the cast to the model's dtype) shows up as a non-finite loss, which
    # the guard stops
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        trainer = Trainer(model, X, y, loss=loss, optimizer=optimizer, lr=lr,
                          batch_size=batch_size, shuffle=shuffle, seed=rng,
                          callbacks=[DivergenceGuard(restore=False), recorder])  # fmt: skip
        try:
            trainer.run(epochs=epochs, progress=False)
        except DivergenceError as exc:
            losses = trainer.history.step_loss
            what = "exploded to" if math.isfinite(losses[-1]) else "became"
            where = f"{type(estimator).__name__}: the training loss {what} {losses[-1]:.4g}"
            if len(losses) == 1:  # before any update: the data, not the step size
                raise ValueError(
                    f"{where} at step 0, before any update. The input data or targets have "
                    "values too large to train on; preprocess them (e.g. with StandardScaler)."
                ) from exc
            raise ValueError(
                f"{where} at step {len(losses) - 1} (first loss {losses[0]:.4g}): "
                f"{lr_name}={lr:g} is too large for this problem; try {lr_name}={lr / 10:g} or "
                "smaller."
            ) from exc


def _binary_proba(z: np.ndarray) -> np.ndarray:
    """``[1 - sigmoid(z), sigmoid(z)]`` for a 1-D logit; tanh form, so no overflow."""
    p = 0.5 * (1.0 + np.tanh(0.5 * z))
    return np.column_stack([1.0 - p, p])


def _encode_classes(estimator: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted classes and each sample's class index; a single class is refused."""
    y = column_or_1d(y)
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs samples of at least 2 classes in the data, but "
            f"the data contains only one class: {classes[0]!r}."
        )
    return classes, codes.astype(np.int64)


# --- scikit-learn's multilayer perceptrons ------------------------------------------------


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: hyperparameters, network, loop, attributes."""

    # what partial_fit continues from: the batch-order generator, the optimizer's state
    __theta_state_names__ = ("_rng", "_solver_state")

    _parameter_constraints = {
        "hidden_layer_sizes": [Interval(numbers.Integral, 1, None),
                               Each(Interval(numbers.Integral, 1, None))],
        "activation": [Options(_ACTIVATIONS)],
        "solver": [Options({"adam", "sgd"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Options({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    }  # fmt: skip

    def __init__(
        self, hidden_layer_sizes: Any = (100,), *, activation: str = "relu",
        solver: str = "adam", alpha: float = 1e-4, batch_size: int | str = "auto",
        learning_rate_init: float = 1e-3, max_iter: int = 200, tol: float = 1e-4,
        n_iter_no_change: int = 10, early_stopping: bool = False,
        validation_fraction: float = 0.1, shuffle: bool = True, random_state: Any = None,
        momentum: float = 0.9, nesterovs_momentum: bool = True, beta_1: float = 0.9,
        beta_2: float = 0.999, epsilon: float = 1e-8,
    ) -> None:  # fmt: skip
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    # subclasses say how targets are encoded, scored and which loss and output they use
    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _val_score(self, out: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _BaseMLP:
        """Train the network on ``(X, y)`` with minibatch Adam or SGD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        hidden = [int(size) for size in np.atleast_1d(self.hidden_layer_sizes)]
        is_classifier = isinstance(self, ClassifierMixin)
        names = feature_names(X)
        X, y = check_X_y(X, y, caller=self, y_numeric=not is_classifier)
        targets, state = self._prepare_targets(y)  # raises before any state changes
        rng = check_random_state(self.random_state)
        X_val = t_val = None
        if self.early_stopping:
            stratify = state["codes"] if "codes" in state else None
            X, X_val, targets, t_val = _split(self, X, targets, stratify, rng)
        n_samples = len(X)
        batch_size = _batch_size(self.batch_size, n_samples)
        model = _glorot_mlp((X.shape[1], *hidden, state["n_outputs"]), self.activation, rng)
        optimizer, objective = self._solver(model, state)
        score = None
        if X_val is not None:
            X_val32 = X_val.astype(np.float32)
            score = lambda net: self._val_score(module_output(net, X_val32), t_val)  # noqa: E731
        recorder = _Recorder(n_samples, self.tol, self.n_iter_no_change, score, objective)
        _train(self, "learning_rate_init", model, X, targets, loss=objective,
               optimizer=optimizer, batch_size=batch_size,
               shuffle=self.shuffle, rng=rng, epochs=self.max_iter, recorder=recorder)  # fmt: skip
        if recorder.best_state is not None:  # early stopping keeps the best validated epoch
            model.load_state_dict(recorder.best_state)
        if not all(np.isfinite(p.data).all() for p in model.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed."
            )
        # forget any earlier fit: every learned attribute is (re)set here
        self._set_features(X.shape[1], names)
        for key, value in state.items():
            if key.endswith("_"):
                setattr(self, key, value)
        self.model_ = model
        self.n_outputs_ = state["n_outputs"]
        self.n_layers_ = len(hidden) + 2
        self.out_activation_ = state["out_activation"]
        self.loss_curve_ = recorder.loss_curve
        self.loss_ = recorder.loss_curve[-1]
        self.n_iter_ = len(recorder.loss_curve)
        self.t_ = self.n_iter_ * n_samples
        self.best_loss_ = None if self.early_stopping else recorder.best_loss
        self.validation_scores_ = recorder.validation_scores if self.early_stopping else None
        self.best_validation_score_ = recorder.best_score if self.early_stopping else None
        self._rng, self._solver_state = rng, (optimizer.state_dict(), objective.t)
        if not recorder.converged:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                sklearn_twin(ConvergenceWarning),
                stacklevel=2,
            )
        return self

    def _solver(self, model: Module, state: dict[str, Any],
                saved: tuple[dict, int] | None = None) -> tuple[Any, _Objective]:  # fmt: skip
        """The optimizer over ``model`` and the objective it minimises; ``saved`` (from
        ``_solver_state``) continues an earlier run's moments and step count."""
        weights = [p for p in model.parameters() if p.ndim == 2]
        biases = [p for p in model.parameters() if p.ndim != 2]
        groups = [{"params": weights, "weight_decay": 0.0}, {"params": biases, "weight_decay": 0.0}]
        if self.solver == "adam":
            optimizer = Adam(groups, lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                             eps=self.epsilon)  # fmt: skip
        else:
            nesterov = bool(self.nesterovs_momentum and self.momentum > 0)
            optimizer = SGD(groups, lr=self.learning_rate_init, momentum=self.momentum,
                            nesterov=nesterov)  # fmt: skip
        adam_eps = self.epsilon if self.solver == "adam" else None
        objective = _Objective(state["loss"], state["scale"], self.alpha, optimizer, adam_eps)
        if saved is not None:
            optimizer.load_state_dict(saved[0])
            objective.t = saved[1]
        return optimizer, objective

    def _partial_fit(self, X: Any, y: Any, classes: Any = None) -> _BaseMLP:
        """One epoch over the batch ``(X, y)``, continuing the network, the optimizer's moments
        and the batch order of the previous ``fit``/``partial_fit`` (scikit-learn's rule: the
        first call builds the network). Trains a copy, so an error changes nothing."""
        first = not hasattr(self, "model_")
        if first:
            self._validate_params()
        names = feature_names(X)
        if not first:
            self._check_feature_names(names)
        is_classifier = isinstance(self, ClassifierMixin)
        X, y = check_X_y(X, y, caller=self, y_numeric=not is_classifier)
        if not first and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        targets, state = self._prepare_batch_targets(y, classes, first)
        if first:
            rng = check_random_state(self.random_state)
            hidden = [int(size) for size in np.atleast_1d(self.hidden_layer_sizes)]
            model = _glorot_mlp((X.shape[1], *hidden, state["n_outputs"]), self.activation, rng)
            saved, curve = None, []
            self.n_layers_ = len(hidden) + 2
        else:
            rng, model = copy.deepcopy(self._rng), copy.deepcopy(self.model_)
            saved, curve = self._solver_state, list(self.loss_curve_)
            if self.n_outputs_ != state["n_outputs"]:
                raise ValueError(
                    f"{type(self).__name__}: y has {state['n_outputs']} outputs, but the network "
                    f"was fitted with {self.n_outputs_}."
                )
        optimizer, objective = self._solver(model, state, saved)
        recorder = _Recorder(len(X), objective=objective)
        _train(self, "learning_rate_init", model, X, targets, loss=objective,
               optimizer=optimizer, batch_size=_batch_size(self.batch_size, len(X)),
               shuffle=self.shuffle, rng=rng, epochs=1, recorder=recorder)  # fmt: skip
        if not all(np.isfinite(p.data).all() for p in model.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed."
            )
        if first:
            self._set_features(X.shape[1], names)
            for key, value in state.items():
                if key.endswith("_"):
                    setattr(self, key, value)
            self.n_outputs_ = state["n_outputs"]
            self.out_activation_ = state["out_activation"]
            self.t_ = 0
            self.best_loss_, self.validation_scores_, self.best_validation_score_ = (
                math.inf, None, None)  # fmt: skip
        self.model_ = model
        self.loss_curve_ = curve + recorder.loss_curve
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = min(self.best_loss_ if self.best_loss_ is not None else math.inf,
                              self.loss_)  # fmt: skip
        self.n_iter_ = 1  # epochs of this call, as scikit-learn counts them
        self.t_ += len(X)
        self._rng, self._solver_state = rng, (optimizer.state_dict(), objective.t)
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's raw outputs (logits or values) for ``X``, in float64."""
        check_is_fitted(self)
        X = self._validate_data(X, reset=False)
        out = module_output(self.model_, X.astype(np.float64, copy=False))
        return out.astype(np.float64, copy=False)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices in scikit-learn's layout, ``(n_in, n_out)`` each (read-only views)."""
        return [_read_only(layer.weight.data.T) for layer in self._linear_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, one per layer (read-only views)."""
        return [_read_only(layer.bias.data) for layer in self._linear_layers()]

    def _linear_layers(self) -> list[Linear]:
        check_is_fitted(self)
        return [layer for layer in self.model_.layers if isinstance(layer, Linear)]


def _batch_size(batch_size: int | str, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            stacklevel=3,
        )
    return min(int(batch_size), n_samples)


def _split(estimator: _BaseMLP, X: np.ndarray, targets: np.ndarray, stratify: Any,
           rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """Hold out ``validation_fraction`` of the samples (stratified for classifiers)."""
    fraction = estimator.validation_fraction
    parts = []
    if fraction > 0:
        parts = train_val_split(X, targets, val_fraction=fraction, rng=rng, stratify=stratify)
    if not parts or len(parts[1]) < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size of your "
            "dataset."
        )
    return parts


def _glorot_mlp(sizes: tuple[int, ...], activation: str, rng: np.random.Generator) -> MLP:
    """A float32 :class:`~theta.nn.MLP` initialised as scikit-learn initialises its MLPs.

    Weights and biases ~ ``U(-b, b)`` with ``b = sqrt(6 / (fan_in + fan_out))`` (``2``
    instead of ``6`` for the logistic activation): Glorot's rule, not PyTorch's default.
    """
    model = MLP(sizes, activation=_ACTIVATIONS[activation], rng=rng, dtype=np.float32)
    factor = 2.0 if _ACTIVATIONS[activation] == "sigmoid" else 6.0
    for layer in model.layers:
        if isinstance(layer, Linear):
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(factor / (fan_in + fan_out))
            layer.weight.data[...] = rng.uniform(-bound, bound, (fan_in, fan_out)).T
            layer.bias.data[...] = rng.uniform(-bound, bound, fan_out)
    return model


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier: scikit-learn's ``MLPClassifier``, built on theta.

    Minimises the log-loss: softmax cross-entropy over ``n_classes`` outputs, or for two
    classes one logistic output with binary cross-entropy (as scikit-learn does), plus the
    L2 penalty ``0.5 * alpha * ||W||² / n_batch`` on the weight matrices.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; ``()`` gives a linear (softmax regression) model.
    activation : {"relu", "tanh", "gelu", "sigmoid", "logistic"}, default="relu"
        Hidden activation; ``"logistic"`` is scikit-learn's name for ``"sigmoid"``.
    solver : {"adam", "sgd"}, default="adam"
    alpha : float, default=1e-4
        Strength of the L2 penalty (scikit-learn's definition: ``0.5 * alpha * ||W||²``
        divided by the batch size, added to the mean batch loss; biases are not penalised).
        Implemented as per-batch weight decay ``alpha / n_batch`` on the weight matrices.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Constant learning rate.
    max_iter : int, default=200
        Maximum number of epochs.
    tol : float, default=1e-4
        Improvement the stopping rule requires (see ``n_iter_no_change``).
    n_iter_no_change : int, default=10
        Stop once the training loss (with ``early_stopping``, the validation accuracy) has
        not improved by ``tol`` for more than this many consecutive epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop on its accuracy and
        keep the parameters of the best validated epoch.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the initial weights, the validation split and the batch order.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with SGD.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and denominator constant.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch (sample-weighted mean of the batch objectives).
    best_loss_ : float or None
        Lowest training loss (``None`` with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch (only with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    t_ : int
        Training samples seen.
    model_ : theta.nn.MLP
        The trained network (float32), saveable with ``theta.io``.
    coefs_, intercepts_ : list of ndarray
        Weights as ``(n_in, n_out)`` matrices and biases, read-only views of ``model_``.
    n_layers_, n_outputs_ : int
    out_activation_ : {"softmax", "logistic"}
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Notes
    -----
    With the same initial weights and batch order, the loss curve and weights equal
    scikit-learn's to float32 precision: same Glorot initialisation, objective, Adam (its
    epsilon is rescaled each step to scikit-learn's placement), Nesterov SGD and stopping
    rule. Training runs in float32 (targets beyond ~1e19 overflow it and are refused with a
    clear error); predictions are computed in float64. Not offered: ``solver="lbfgs"``,
    learning-rate schedules (``learning_rate``, ``power_t``), ``warm_start``,
    ``sample_weight``, ``verbose``, the identity activation. :meth:`partial_fit` runs one
    epoch per call, keeping the optimizer's moments across calls (and across a save with
    ``theta.io``), as scikit-learn's does.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 10)
    >>> y = np.array([0, 1, 1, 0] * 10)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=300, random_state=0)
    >>> clf.fit(X, y).predict([[0.0, 1.0], [1.0, 1.0]])
    array([1, 0])
    >>> clf.predict_proba([[0.0, 1.0]]).shape
    (1, 2)
    """

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over the batch ``(X, y)``, continuing from the previous calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Every label the stream will contain; required on the first call (the batch need
            not show them all), and if given later, the same.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, classes)

    def _prepare_batch_targets(self, y: np.ndarray, classes: Any,
                               first: bool) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
        """Targets coded against ``classes`` (scikit-learn's partial_fit rules and messages)."""
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        known = self.classes_ if classes is None else np.unique(np.asarray(classes))
        if not first and not np.array_equal(known, self.classes_):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                f"{self.classes_!r}"
            )
        y = column_or_1d(y)
        check_classification_targets(y)
        seen = np.unique(y)
        if np.setdiff1d(seen, known).size:
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {known}. 'y' has "
                f"{seen}."
            )
        if len(known) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes, but classes has only one: "
                f"{known[0]!r}."
            )
        return self._class_targets(known, np.searchsorted(known, y).astype(np.int64))

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        return self._class_targets(*_encode_classes(self, y))

    def _class_targets(self, classes: np.ndarray,
                       codes: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
        state = {"classes_": classes, "codes": codes, "scale": 1.0}
        if len(classes) == 2:
            state.update(n_outputs=1, out_activation="logistic",
                         loss=binary_cross_entropy_with_logits)  # fmt: skip
            return codes.astype(np.float32).reshape(-1, 1), state
        state.update(n_outputs=len(classes), out_activation="softmax", loss=cross_entropy)
        return codes, state

    def _val_score(self, out: np.ndarray, targets: np.ndarray) -> float:
        return accuracy_score(targets.reshape(-1), class_index(out))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each sample, shape (n_samples,)."""
        out = self._outputs(X)  # checks the fit first
        return self.classes_[class_index(out)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        out = self._outputs(X)
        return _binary_proba(out[:, 0]) if out.shape[1] == 1 else softmax(out)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed without taking the log of 0."""
        out = self._outputs(X)
        return binary_log_proba(out[:, 0]) if out.shape[1] == 1 else log_softmax(out)


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: scikit-learn's ``MLPRegressor``, built on theta.

    Minimises half the squared error, ``sum((y - pred)²) / (2 * n_batch)`` (averaged over
    samples, summed over outputs, as scikit-learn's gradient is), plus the L2 penalty
    ``0.5 * alpha * ||W||² / n_batch``. The output layer is linear (identity).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate_init, max_iter, \
tol, n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, momentum, \
nesterovs_momentum, beta_1, beta_2, epsilon :
        As for :class:`MLPClassifier`; with ``early_stopping`` the validation score is R².

    Attributes
    ----------
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_, \
model_, coefs_, intercepts_, n_layers_, n_outputs_, n_features_in_ :
        As for :class:`MLPClassifier`.
    out_activation_ : "identity"

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> y = 2 * X.ravel() + 1
    >>> reg = MLPRegressor((32,), learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> reg.n_iter_ < reg.max_iter, reg.score(X, y) > 0.95
    (True, True)
    >>> reg.predict([[0.5]]).shape
    (1,)
    """

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over the batch ``(X, y)`` (shapes as in :meth:`fit`), continuing from the
        previous calls; returns ``self``."""
        return self._partial_fit(X, y)

    def _prepare_batch_targets(self, y: np.ndarray, classes: Any,
                               first: bool) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
        return self._prepare_targets(y)

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        targets = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)
        n_outputs = targets.shape[1]
        state = {"n_outputs": n_outputs, "out_activation": "identity", "loss": mse,
                 "scale": 0.5 * n_outputs}  # fmt: skip
        return targets, state

    def _val_score(self, out: np.ndarray, targets: np.ndarray) -> float:
        # scikit-learn's R² of several outputs is the plain mean of each output's R²
        return float(np.mean([r2_score(targets[:, j], out[:, j]) for j in range(out.shape[1])]))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --- any theta Module as an estimator -----------------------------------------------------

_BINARY_LOSSES = {"bce", "binary_cross_entropy", "bce_with_logits",
                  "binary_cross_entropy_with_logits", "hinge"}  # fmt: skip
_LOGIT_LOSSES = {"bce_with_logits", "binary_cross_entropy_with_logits"}
_PROBABILITY_LOSSES = {"bce", "binary_cross_entropy"}
_SHARED_CONSTRAINTS = {
    "module": [Module, None],
    "optimizer": [Options({"sgd", "adam", "adamw", "rmsprop"})],
    "lr": [Interval(numbers.Real, 0, None, closed="neither")],
    "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
}  # fmt: skip


class _ModuleEstimator(BaseEstimator):
    """Shared fit and forward of ModuleRegressor and ModuleClassifier."""

    # subclasses: the default network's output size, targets shaped for the module's output
    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _fit_targets(self, targets: np.ndarray, out_shape: tuple, state: dict) -> np.ndarray:
        raise NotImplementedError

    def fit(self, X: Any, y: Any) -> _ModuleEstimator:
        """Train a copy of ``module`` (or a new small MLP) on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features, ...)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        is_classifier = isinstance(self, ClassifierMixin)
        names = feature_names(X)
        X, y = check_X_y(X, y, caller=self, allow_nd=True, y_numeric=not is_classifier)
        targets, state = self._prepare_targets(y)
        rng = check_random_state(self.random_state)
        if self.module is None:  # a small float64 MLP sized to the data
            model = MLP((X.shape[1], 32, state["n_outputs"]), rng=rng, dtype=np.float64)
        else:  # the module is the initial model: train a copy, never the caller's object
            model = copy.deepcopy(self.module)
        out_shape = module_output(model, X[:1].astype(parameter_dtype(model), copy=False)).shape
        targets = self._fit_targets(targets, out_shape, state)
        recorder = _Recorder(len(X))
        _train(self, "lr", model, X, targets, loss=get_loss(self.loss), optimizer=self.optimizer,
               batch_size=self.batch_size, shuffle=True, rng=rng, epochs=self.epochs,
               recorder=recorder)  # fmt: skip
        self._set_features(X.shape[1], names)
        for key, value in state.items():
            if key.endswith("_"):
                setattr(self, key, value)
        self.model_ = model
        self.loss_curve_ = recorder.loss_curve
        self.n_iter_ = len(recorder.loss_curve)
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        """The module's outputs for ``X`` (computed in its dtype), as float64."""
        check_is_fitted(self)
        X = self._validate_data(X, reset=False, allow_nd=True)
        out = module_output(self.model_, X.astype(parameter_dtype(self.model_), copy=False))
        return out.astype(np.float64, copy=False)


def _shape_error(estimator: Any, out_shape: tuple, expected: str) -> ValueError:
    return ValueError(
        f"{type(estimator).__name__}: the module outputs shape {out_shape[1:]} per sample, but "
        f"loss={estimator.loss!r} with this y needs {expected}; change the module's last layer."
    )


class ModuleRegressor(RegressorMixin, _ModuleEstimator):
    """Any theta ``Module`` plus a loss, as a scikit-learn regressor.

    Parameters
    ----------
    module : theta.nn.Module or None, default=None
        The initial model, mapping ``(n_samples, n_features, ...)`` to ``(n_samples,)`` or
        ``(n_samples, n_outputs)``. ``fit`` trains a deep copy, so the module passed in keeps
        its parameters and every fit starts from them (a pretrained module is fine-tuned).
        ``None`` builds ``MLP((n_features, 32, n_outputs))`` in float64, seeded by
        ``random_state``.
    loss : {"mse", "mae", "huber"} or callable, default="mse"
        A :mod:`theta.losses` name or ``loss(prediction, target) -> Tensor``.
    optimizer : {"adam", "sgd", "adamw", "rmsprop"}, default="adam"
    lr : float, default=1e-3
    epochs : int, default=10
    batch_size : int or None, default=32
        ``None`` trains on all samples at every step.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the batch order (and the default network's initial weights).

    Attributes
    ----------
    model_ : theta.nn.Module
        The trained copy.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import Linear
    >>> X = np.arange(5.0).reshape(-1, 1)
    >>> line = Linear(1, 1, rng=0, dtype=np.float64)
    >>> reg = ModuleRegressor(line, optimizer="sgd", lr=0.05, epochs=1000, batch_size=None)
    >>> round(float(reg.fit(X, 2 * X.ravel() + 1).predict([[10.0]])[0]), 3)
    21.0
    >>> reg.model_ is line
    False
    """

    _parameter_constraints = {
        **_SHARED_CONSTRAINTS, "loss": [Options({"mse", "mae", "huber"}), "callable"],
    }  # fmt: skip

    def __init__(
        self, module: Module | None = None, *, loss: Any = "mse", optimizer: str = "adam",
        lr: float = 1e-3, epochs: int = 10, batch_size: int | None = 32, random_state: Any = None,
    ) -> None:  # fmt: skip
        self.module = module
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        return y, {"n_outputs": n_outputs, "n_outputs_": n_outputs}

    def _fit_targets(self, targets: np.ndarray, out_shape: tuple, state: dict) -> np.ndarray:
        if out_shape[1:] == targets.shape[1:]:
            return targets
        if targets.ndim == 1 and out_shape[1:] == (1,):
            return targets.reshape(-1, 1)
        raise _shape_error(self, out_shape, f"shape {targets.shape[1:]}")

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._outputs(X)
        return out.reshape(len(out)) if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # honest: the default 10 epochs at lr=1e-3 are a quick start, not a converged fit
        tags.regressor_tags.poor_score = True
        return tags


class ModuleClassifier(ClassifierMixin, _ModuleEstimator):
    """Any theta ``Module`` plus a loss, as a scikit-learn classifier.

    With ``loss="cross_entropy"`` the module outputs one logit per class,
    ``(n_samples, n_classes)``, classes in the order of ``classes_``. With a binary loss
    (``"bce_with_logits"``, ``"bce"`` on probabilities, ``"hinge"`` on margins) it outputs
    one value per sample, ``(n_samples,)`` or ``(n_samples, 1)``, for ``classes_[1]``. A
    callable loss receives the outputs and the class indices ``(n_samples,)``.

    Parameters
    ----------
    module : theta.nn.Module or None, default=None
        The initial model; ``fit`` trains a deep copy (see :class:`ModuleRegressor`).
        ``None`` builds ``MLP((n_features, 32, n_outputs))`` in float64.
    loss : str or callable, default="cross_entropy"
        ``"cross_entropy"``, ``"bce_with_logits"``, ``"bce"``, ``"hinge"`` (and the long
        names ``"binary_cross_entropy_with_logits"``, ``"binary_cross_entropy"``).
    optimizer, lr, epochs, batch_size, random_state :
        As for :class:`ModuleRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_, loss_curve_, n_iter_, n_features_in_ :
        As for :class:`ModuleRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.nn import MLP
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]] * 5)
    >>> y = np.array(["a", "a", "b", "b"] * 5)
    >>> clf = ModuleClassifier(MLP((1, 8, 2), rng=0), lr=0.05, epochs=100, random_state=0)
    >>> clf.fit(X, y).predict([[0.2], [2.8]])
    array(['a', 'b'], dtype='<U1')
    """

    _parameter_constraints = {
        **_SHARED_CONSTRAINTS, "loss": [Options({"cross_entropy", *_BINARY_LOSSES}), "callable"],
    }  # fmt: skip

    def __init__(
        self, module: Module | None = None, *, loss: Any = "cross_entropy",
        optimizer: str = "adam", lr: float = 1e-3, epochs: int = 10,
        batch_size: int | None = 32, random_state: Any = None,
    ) -> None:  # fmt: skip
        self.module = module
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _binary(self) -> bool:
        return isinstance(self.loss, str) and self.loss in _BINARY_LOSSES

    def _prepare_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        classes, codes = _encode_classes(self, y)
        if self._binary() and len(classes) > 2:
            raise ValueError(
                f"{type(self).__name__}: loss={self.loss!r} is for two classes, but y has "
                f"{len(classes)}; use loss='cross_entropy'."
            )
        return codes, {"classes_": classes, "n_outputs": 1 if self._binary() else len(classes)}

    def _fit_targets(self, targets: np.ndarray, out_shape: tuple, state: dict) -> np.ndarray:
        if self._binary():
            if out_shape[1:] not in ((), (1,)):
                raise _shape_error(self, out_shape, "() or (1,)")
            binary = targets.astype(np.float64)
            return binary.reshape(-1, 1) if out_shape[1:] == (1,) else binary
        if self.loss == "cross_entropy" and out_shape[1:] != (len(state["classes_"]),):
            raise _shape_error(self, out_shape, f"({len(state['classes_'])},), one per class")
        return targets

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each sample, shape (n_samples,)."""
        out = self._outputs(X)
        threshold = 0.5 if self.loss in _PROBABILITY_LOSSES else 0.0
        return self.classes_[class_index(out, threshold)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes); for the cross-entropy and
        binary cross-entropy losses only (hinge margins and custom losses have none)."""
        if self.loss == "cross_entropy":
            return softmax(self._outputs(X))
        if self.loss in _LOGIT_LOSSES:
            out = self._outputs(X)
            return _binary_proba(out.reshape(len(out)))
        if self.loss in _PROBABILITY_LOSSES:
            p = np.clip(self._outputs(X).reshape(-1), 0.0, 1.0)
            return np.column_stack([1.0 - p, p])
        raise AttributeError(
            f"predict_proba is not available when loss={self.loss!r}; use loss='cross_entropy' "
            "or a binary cross-entropy loss."
        )
