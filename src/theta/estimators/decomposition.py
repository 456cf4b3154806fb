"""Dimensionality reduction: PCA (linear, exact) and an Autoencoder (learned, nonlinear).

Both find a short code for each sample from unlabelled data — "embeddings learned without
labels". PCA's code is the projection on the directions of largest variance, computed in
closed form; the autoencoder learns an encoder and a decoder with the chapter's four steps,
minimising the reconstruction error. With linear layers the autoencoder can at best match
PCA's reconstruction error, which makes PCA its yardstick.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from theta.errors import DivergenceError
from theta.estimators.base import (
    _SAFE_MAGNITUDES,
    BaseEstimator,
    TransformerMixin,
    as_float,
    check_is_fitted,
    diverged,
    module_output,
    parameter_dtype,
    safe_scale,
)  # fmt: skip
from theta.estimators.preprocessing import constant_features
from theta.nn import MLP, Sequential
from theta.rng import check_random_state
from theta.train import fit as train_fit
from theta.validation import Each, Interval, Options, check_array, feature_names

__all__ = ["PCA", "Autoencoder"]

_ROWS_PER_CHUNK = 4096


def _flip_signs(Vt: np.ndarray) -> np.ndarray:
    """scikit-learn's ``svd_flip(u_based_decision=False)``: each row's largest-|.| entry > 0."""
    biggest = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), biggest])
    signs[signs == 0] = 1.0
    return Vt * signs[:, None]


def _safe_gram(X: np.ndarray) -> np.ndarray | None:
    """``XᵀX`` of float64 data when its diagonal proves ``safe_scale(X) == 1``, else None.

    Each diagonal entry is a column's sum of squares, between ``max|x|²`` and ``n·max|x|²``
    over that column, so the largest one bounds the data's largest magnitude from both sides
    (and a finite one proves the data finite) without another pass over the data:
    ``safe_scale`` costs two, its min and max, and the finite check one.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        gram = X.T @ X  # NumPy hands XᵀX to BLAS's symmetric rank-k update
    top = float(np.max(np.diag(gram), initial=0.0))
    low, high = _SAFE_MAGNITUDES
    return gram if X.shape[0] * low * low <= top <= high * high else None


def _scatter(X: np.ndarray, mean: np.ndarray, gram: np.ndarray | None = None) -> np.ndarray:
    """``(X - mean).T @ (X - mean)`` in float64: the covariance matrix times ``n - 1``.

    The fast route is scikit-learn's: ``XᵀX - n·mean·meanᵀ``, one symmetric BLAS product on
    the data as given (``gram``, when already computed). Subtracting the outer product
    cancels digits when the data sit far from the origin compared with their spread (the
    diagonal shows it), and float32 products lose digits too; then the rows are centred in
    float64, a chunk at a time (about 1.3x slower, no big copy).
    """
    n_samples, n_features = X.shape
    if X.dtype == np.float64:
        scatter = X.T @ X if gram is None else gram
        scatter -= n_samples * np.outer(mean, mean)
        # the diagonal holds n·variance: trust it unless n·mean² dwarfs it (lost digits)
        if n_samples * float(np.max(mean**2)) <= 1e3 * float(np.mean(np.diag(scatter))):
            return scatter
    scatter = np.zeros((n_features, n_features))
    for start in range(0, n_samples, _ROWS_PER_CHUNK):
        Z = X[start : start + _ROWS_PER_CHUNK] - mean  # (chunk, n_features), float64
        scatter += Z.T @ Z
    return scatter


class PCA(TransformerMixin, BaseEstimator):
    """Principal component analysis: project on the directions of largest variance.

    The components are the right singular vectors of the centred data. Two exact routes lead
    there (``svd_solver``):

    - ``"covariance_eigh"``: eigendecomposition of the ``(n_features, n_features)``
      covariance matrix. Forming it costs one pass over the data and the eigenproblem is
      small, so for tall data (many more samples than features) this is several times faster
      than an SVD of the data. The covariance is formed in float64 (from centred rows when
      the data sit far from the origin), so components agree with the SVD's to about 1e-9
      unless two variances nearly coincide.
    - ``"full"``: ``numpy.linalg.svd`` of the centred data.

    ``"auto"`` picks as scikit-learn (≥ 1.5) does for dense data: the covariance route when
    ``n_features <= 1000`` and ``n_samples >= 10 * n_features``, else the full SVD (where
    scikit-learn may switch to a randomized approximation, theta stays exact).
    Signs follow scikit-learn's rule: the largest-magnitude entry of each component is
    positive, so components match scikit-learn's including their signs.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components to keep; a float in (0, 1) keeps the fewest components whose
        explained variance ratio adds up to more than it; ``None`` keeps
        ``min(n_samples, n_features)``.
    whiten : bool, default=False
        Divide the projections by the square roots of their variances, so each output has
        unit variance (variances below machine epsilon are clipped, never divided by zero).
    svd_solver : {"auto", "full", "covariance_eigh"}, default="auto"
        See above.
    random_state : int, numpy.random.Generator or None, default=None
        Unused (both solvers are exact); accepted for scikit-learn compatibility.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Principal axes, by decreasing explained variance.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance along each component (``n_samples - 1`` degrees of freedom).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Fraction of the total variance along each component.
    singular_values_ : ndarray of shape (n_components_,)
        Singular values of the centred data for each component.
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    n_components_ : int
        Number of components kept.
    noise_variance_ : float
        Mean variance of the discarded directions (probabilistic PCA's noise estimate).
    n_samples_ : int
        Number of training samples.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> X = np.array([[-1.0, -1.0], [-2.0, -1.0], [-3.0, -2.0], [1.0, 1.0], [2.0, 1.0], [3.0, 2.0]])
    >>> pca = PCA(n_components=2).fit(X)
    >>> pca.explained_variance_ratio_.round(4).tolist()
    [0.9924, 0.0076]
    >>> np.allclose(pca.inverse_transform(pca.transform(X)), X)
    True
    """

    _parameter_constraints = {
        "n_components": [
            Interval(numbers.Integral, 1, None),
            Interval(numbers.Real, 0, 1, closed="neither"),
            None,
        ],
        "whiten": ["boolean"],
        "svd_solver": [Options({"auto", "full", "covariance_eigh"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int | float | None = None,
        *,
        whiten: bool = False,
        svd_solver: str = "auto",
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> PCA:
        """Find the principal components of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored

        Returns
        -------
        self : PCA

        Raises
        ------
        ValueError
            If an integer ``n_components`` exceeds ``min(n_samples, n_features)``.
        """
        self._fit(X)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return its projection (``X`` is checked once, not twice).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        return self._project(self._fit(X))

    def _fit(self, X: Any) -> np.ndarray:
        """Fit, and return ``X`` as checked and converted (what ``_project`` takes)."""
        self._validate_params()
        names = feature_names(X)
        X = as_float(check_array(X, caller=self, ensure_all_finite=False))
        n_samples, n_features = X.shape
        solver = self.svd_solver
        if solver == "auto":
            tall = n_features <= 1000 and n_samples >= 10 * n_features
            solver = "covariance_eigh" if tall else "full"
        gram = None
        if solver == "covariance_eigh" and X.dtype == np.float64:
            gram = _safe_gram(X)
        if gram is None:  # a finite Gram diagonal already proved every entry finite
            check_array(X, caller=self)
        limit = min(n_samples, n_features)
        if isinstance(self.n_components, numbers.Integral) and self.n_components > limit:
            raise ValueError(
                f"n_components={self.n_components} must be between 0 and "
                f"min(n_samples, n_features)={limit} with svd_solver={solver!r}"
            )

        # data near 1e±300 is fitted divided by a power of two (exact), so that squares neither
        # overflow nor vanish; the results with units are scaled back at the end
        scale = 1.0 if gram is not None else safe_scale(X)
        Xs = X / scale if scale != 1.0 else X
        mean = Xs.mean(axis=0, dtype=np.float64)
        dof = max(n_samples - 1, 1)  # one sample has zero variance, not 0/0
        if solver == "full":
            _, S, Vt = np.linalg.svd(Xs - mean.astype(X.dtype), full_matrices=False)
            variance = (S.astype(np.float64) ** 2) / dof
        else:
            eigvals, eigvecs = np.linalg.eigh(_scatter(Xs, mean, gram) / dof)
            # ascending → descending; rounding can make zero eigenvalues slightly negative
            variance = np.maximum(eigvals[::-1], 0.0)
            S = np.sqrt(variance * dof)
            Vt = eigvecs[:, ::-1].T
        Vt = _flip_signs(Vt)
        total = variance.sum()
        ratio = variance / total if total > 0 else np.zeros_like(variance)

        if self.n_components is None:
            k = limit
        elif isinstance(self.n_components, numbers.Integral):
            k = int(self.n_components)
        else:  # smallest k whose cumulated ratio exceeds the fraction (scikit-learn's rule)
            k = int(np.searchsorted(np.cumsum(ratio), self.n_components, side="right")) + 1
            k = min(k, limit)
        with np.errstate(over="ignore"):  # a variance beyond float64 is inf, as it truly is
            variance = variance * scale * scale
        S, mean = S * scale, mean * scale
        self.noise_variance_ = float(variance[k:].mean()) if k < limit else 0.0
        self.components_ = np.ascontiguousarray(Vt[:k], dtype=X.dtype)
        self.explained_variance_ = variance[:k].astype(X.dtype)
        self.explained_variance_ratio_ = ratio[:k].astype(X.dtype)
        self.singular_values_ = np.asarray(S[:k], dtype=X.dtype)
        self.mean_ = mean.astype(X.dtype)
        self.n_components_ = k
        self.n_samples_ = n_samples
        self._set_features(n_features, names)
        return X

    def transform(self, X: Any) -> np.ndarray:
        """Project ``X`` on the components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self)
        return self._project(as_float(self._validate_data(X, reset=False)))

    def _project(self, X: np.ndarray) -> np.ndarray:
        components = self.components_.astype(X.dtype, copy=False)
        # project first, centre after: no centred copy of X is made
        Z = X @ components.T
        Z -= self.mean_.astype(X.dtype) @ components.T
        if self.whiten:
            Z /= self._whitening_scale(X.dtype)
        return Z

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map projections back to the original space (exact for the kept components).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = as_float(check_array(X, caller=self))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but PCA.inverse_transform is expecting "
                f"{self.n_components_} features (n_components_) as input."
            )
        components = self.components_.astype(Z.dtype, copy=False)
        if self.whiten:
            components = self._whitening_scale(Z.dtype)[:, None] * components
        return Z @ components + self.mean_.astype(Z.dtype)

    def _whitening_scale(self, dtype: np.dtype) -> np.ndarray:
        scale = np.sqrt(self.explained_variance_.astype(dtype))
        return np.maximum(scale, np.finfo(dtype).eps)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class Autoencoder(TransformerMixin, BaseEstimator):
    """An MLP that squeezes each sample through ``n_components`` numbers and back.

    The encoder maps the (standardised) features through ``hidden_layer_sizes`` to the code;
    the decoder mirrors it back to the features. Both are trained together with
    :func:`theta.train.fit` — forward, loss, gradient, update — on the mean squared
    reconstruction error with Adam. ``transform`` returns the code: an embedding learned
    without labels. Inputs are standardised inside (per-feature mean and standard deviation,
    constant features left unscaled), so features on different scales count alike.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the bottleneck).
    hidden_layer_sizes : int or tuple of int, default=(64,)
        Widths of the encoder's hidden layers; the decoder uses them in reverse. ``()`` gives
        a linear autoencoder, which at best matches PCA.
    activation : {"relu", "tanh", "sigmoid", "gelu"}, default="relu"
        Nonlinearity after each hidden layer (never on the code or the output).
    lr : float, default=1e-3
        Adam's learning rate.
    epochs : int, default=50
        Passes over the training data.
    batch_size : int, default=32
        Samples per step (capped at the number of samples).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the initial weights and the batch order.

    Attributes
    ----------
    encoder_ : theta.nn.Module
        Standardised features → code, an :class:`~theta.nn.MLP`.
    decoder_ : theta.nn.Module
        Code → standardised features, an :class:`~theta.nn.MLP`.
    mean_, scale_ : ndarray of shape (n_features,)
        The standardisation applied before encoding and undone after decoding.
    loss_curve_ : list of float
        Mean training loss (on standardised data) of every epoch.
    n_components_ : int
        Size of the code.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 5))
    >>> ae = Autoencoder(n_components=2, epochs=20, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (200, 2)
    >>> ae.loss_curve_[-1] < ae.loss_curve_[0]
    True
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None)],
        "hidden_layer_sizes": [
            Interval(numbers.Integral, 1, None),
            Each(Interval(numbers.Integral, 1, None)),
        ],
        "activation": [Options({"relu", "tanh", "sigmoid", "gelu"})],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "epochs": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
        hidden_layer_sizes: int | tuple[int, ...] = (64,),
        activation: str = "relu",
        lr: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 32,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Autoencoder:
        """Train the encoder and decoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored

        Returns
        -------
        self : Autoencoder
        """
        self._validate_params()
        hidden = [int(size) for size in np.atleast_1d(self.hidden_layer_sizes)]
        names = feature_names(X)
        X = as_float(check_array(X, caller=self))
        n_samples, n_features = X.shape
        rng = check_random_state(self.random_state)
        # statistics of X / unit (exact), so that data near 1e±300 neither overflows nor
        # vanishes when squared
        unit = safe_scale(X)
        X_unit = X / unit if unit != 1.0 else X
        mean, var = X_unit.mean(axis=0), X_unit.var(axis=0)
        scale = np.sqrt(var)
        scale[constant_features(var, mean, n_samples)] = 1.0
        mean, scale = mean * unit, scale * unit
        Xs = (X - mean) / scale

        sizes = [n_features, *hidden, int(self.n_components)]
        common = {"activation": self.activation, "rng": rng, "dtype": X.dtype}
        encoder = MLP(sizes, **common)
        decoder = MLP(sizes[::-1], **common)
        model = Sequential(encoder, decoder)
        try:
            history = train_fit(
                model, Xs, Xs, loss="mse", optimizer="adam", lr=float(self.lr),
                epochs=int(self.epochs), batch_size=min(int(self.batch_size), n_samples),
                seed=rng, progress=False,
            )  # fmt: skip
        except DivergenceError as exc:
            raise diverged("Autoencoder", exc) from exc
        model.eval()
        self.encoder_ = encoder
        self.decoder_ = decoder
        self.mean_ = mean
        self.scale_ = scale
        self.loss_curve_ = list(history.epochs["loss"])
        self.n_components_ = int(self.n_components)
        self._set_features(n_features, names)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The code (embedding) of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        return self._encode(as_float(self._validate_data(X, reset=False)))

    def _encode(self, X: np.ndarray) -> np.ndarray:
        X = ((X - self.mean_) / self.scale_).astype(parameter_dtype(self.encoder_), copy=False)
        return module_output(self.encoder_, X)

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        Z = Z.astype(parameter_dtype(self.decoder_), copy=False)
        return module_output(self.decoder_, Z) * self.scale_ + self.mean_

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to the original feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = as_float(check_array(X, caller=self))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but Autoencoder.inverse_transform is expecting "
                f"{self.n_components_} features (n_components_) as input."
            )
        return self._decode(Z)

    def score(self, X: Any, y: Any = None) -> float:
        """Opposite of the mean squared reconstruction error, in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
            Higher is better; 0 is a perfect reconstruction.
        """
        check_is_fitted(self)
        X = as_float(self._validate_data(X, reset=False))
        reconstruction = self._decode(self._encode(X))
        return -float(np.mean((reconstruction - X) ** 2))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
