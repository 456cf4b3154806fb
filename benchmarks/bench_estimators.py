"""theta.estimators side by side with scikit-learn: the same hyperparameters, the same data.

Six workloads, each timed as fit (plus predict or transform where that is the point):

1. LinearRegression on a 100k x 50 random regression (fit + predict);
2. LogisticRegression (L-BFGS) on the digits scaled to [0, 1], and on a 50k x 50 binary
   problem (fit);
3. MLPClassifier (100,), Adam, on the digits for a fixed number of epochs (fit);
4. KNeighborsClassifier, k=5, brute force, 50k x 64 float32 training points and 5k queries
   (fit + predict);
5. KMeans, 100k x 16, k=16, one run from the same explicit initial centres (fit);
6. PCA, 50k x 256 to 16 components, covariance route (fit_transform).

Before timing, both libraries fit once and their quality figures (R², accuracy, inertia,
explained variance) go into each case's note, so "equal quality" can be read beside the time.
``register(suite, quick=True)`` uses much smaller sizes (a CI smoke run). Needs scikit-learn;
without it nothing is registered. Every thread pool (BLAS and OpenMP, NumPy's and SciPy's)
is limited to NumPy's BLAS thread count, so both libraries get the same threads.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Suite, with_numpy_only

__all__ = ["register"]

_LIMITER: Any = None  # kept alive on purpose: the thread limit holds until the process ends


def _quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with warnings silenced (both libraries warn when max_iter ends a fit)."""

    def call() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return call


def _limit_threads() -> int:
    """Limit every loaded pool (after importing scikit-learn/SciPy) to NumPy's BLAS threads."""
    global _LIMITER
    from threadpoolctl import threadpool_limits

    from harness import _numpy_blas

    blas = _numpy_blas()
    n = int(blas["num_threads"]) if blas else 1
    _LIMITER = threadpool_limits(limits=n)
    return n


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def _acc(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(pred)))


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from theta.data import load_digits

    X, y = load_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64) / 16.0
    y = np.asarray(y)
    perm = np.random.default_rng(0).permutation(len(y))
    X, y = X[perm], y[perm]
    cut = int(0.8 * len(y))
    return X[:cut], y[:cut], X[cut:], y[cut:]


def register(suite: Suite, quick: bool = False) -> dict[str, str]:
    """Fit both libraries once (quality figures), then add the six workloads to ``suite``."""
    try:
        import sklearn
        from sklearn import cluster as sk_cluster
        from sklearn import decomposition as sk_decomposition
        from sklearn import linear_model as sk_linear
        from sklearn import neighbors as sk_neighbors
        from sklearn import neural_network as sk_neural
    except ImportError:
        return {"estimators": "skipped: scikit-learn is not installed"}
    from theta import estimators as th

    threads = _limit_threads()
    rng = np.random.default_rng(0)
    ratio = [("theta", "sklearn")]

    def add(name: str, theta_fn: Callable[[], Any], sk_fn: Callable[[], Any], unit: str,
            note: str, *, kernels: bool = False) -> None:  # fmt: skip
        """``kernels``: theta's compiled kernels serve this case; add its NumPy-only run."""
        impls, ratios = {"theta": _quiet(theta_fn), "sklearn": _quiet(sk_fn)}, list(ratio)
        if kernels:
            with_numpy_only(impls, ratios)
        suite.add(name, impls, baseline="sklearn", unit=unit, ratios=ratios, note=note,
                  prime=False)  # fmt: skip

    # --- 1. LinearRegression ---------------------------------------------------------------
    n, d = (2_000, 20) if quick else (100_000, 50)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)

    def lin(cls: Any) -> Callable[[], Any]:
        return lambda: cls().fit(X, y).predict(X)

    q = {k: _r2(y, f()) for k, f in (("theta", lin(th.LinearRegression)),
                                     ("sklearn", lin(sk_linear.LinearRegression)))}  # fmt: skip
    add(f"Estimators: LinearRegression {n}x{d} fit + predict",
        lin(th.LinearRegression), lin(sk_linear.LinearRegression), "fit + predict",
        f"float64, intercept, closed form. Training R²: theta {q['theta']:.6f}, "
        f"scikit-learn {q['sklearn']:.6f}.")  # fmt: skip

    # --- 2. LogisticRegression ---------------------------------------------------------------
    Xtr, ytr, Xte, yte = _digits()
    if quick:
        Xtr, ytr = Xtr[:300], ytr[:300]

    def logreg(cls: Any, A: np.ndarray, b: np.ndarray) -> Callable[[], Any]:
        return lambda: cls(C=1.0, max_iter=100, tol=1e-4).fit(A, b)

    fitted = {k: _quiet(logreg(c, Xtr, ytr))() for k, c in (("theta", th.LogisticRegression),
              ("sklearn", sk_linear.LogisticRegression))}  # fmt: skip
    q = {k: _acc(yte, m.predict(Xte)) for k, m in fitted.items()}
    it = {k: int(np.max(m.n_iter_)) for k, m in fitted.items()}
    add(f"Estimators: LogisticRegression digits {len(ytr)}x64, 10 classes fit",
        logreg(th.LogisticRegression, Xtr, ytr), logreg(sk_linear.LogisticRegression, Xtr, ytr),
        "fit",
        f"L-BFGS, C=1, max_iter=100, tol=1e-4, pixels/16. Held-out accuracy ({len(yte)}): "
        f"theta {q['theta']:.4f}, scikit-learn {q['sklearn']:.4f}; iterations theta "
        f"{it['theta']}, scikit-learn {it['sklearn']}.")  # fmt: skip

    n, d = (2_000, 20) if quick else (50_000, 50)
    Xb = rng.standard_normal((n + n // 5, d))
    logits = Xb @ (rng.standard_normal(d) / np.sqrt(d) * 3.0)
    yb = (rng.random(len(Xb)) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    Xb_tr, yb_tr, Xb_te, yb_te = Xb[:n], yb[:n], Xb[n:], yb[n:]
    fitted = {k: _quiet(logreg(c, Xb_tr, yb_tr))() for k, c in (("theta", th.LogisticRegression),
              ("sklearn", sk_linear.LogisticRegression))}  # fmt: skip
    q = {k: _acc(yb_te, m.predict(Xb_te)) for k, m in fitted.items()}
    it = {k: int(np.max(m.n_iter_)) for k, m in fitted.items()}
    add(f"Estimators: LogisticRegression {n}x{d} binary fit",
        logreg(th.LogisticRegression, Xb_tr, yb_tr),
        logreg(sk_linear.LogisticRegression, Xb_tr, yb_tr), "fit",
        f"L-BFGS, C=1, max_iter=100, tol=1e-4, logistic-model labels. Held-out accuracy "
        f"({len(yb_te)}): theta {q['theta']:.4f}, scikit-learn {q['sklearn']:.4f}; "
        f"iterations theta {it['theta']}, scikit-learn {it['sklearn']}.")  # fmt: skip

    # --- 3. MLPClassifier ----------------------------------------------------------------------
    epochs = 3 if quick else 50
    Xm, ym = _digits()[:2]
    if quick:
        Xm, ym = Xm[:300], ym[:300]

    def mlp(cls: Any) -> Callable[[], Any]:
        return lambda: cls(hidden_layer_sizes=(100,), max_iter=epochs, tol=1e-4,
                           n_iter_no_change=epochs + 1, random_state=0).fit(Xm, ym)  # fmt: skip

    fitted = {k: _quiet(mlp(c))() for k, c in (("theta", th.MLPClassifier),
                                                ("sklearn", sk_neural.MLPClassifier))}  # fmt: skip
    q = {k: _acc(yte, m.predict(Xte)) for k, m in fitted.items()}
    it = {k: int(m.n_iter_) for k, m in fitted.items()}
    add(f"Estimators: MLPClassifier (100,) digits {len(ym)}x64, {epochs} epochs fit",
        mlp(th.MLPClassifier), mlp(sk_neural.MLPClassifier), "fit",
        f"ReLU, Adam lr 1e-3, batch 200, alpha 1e-4, n_iter_no_change > max_iter so both run "
        f"all epochs (theta {it['theta']}, scikit-learn {it['sklearn']}). Held-out accuracy "
        f"({len(yte)}): theta {q['theta']:.4f}, scikit-learn {q['sklearn']:.4f}.")  # fmt: skip

    # --- 4. KNeighborsClassifier ------------------------------------------------------------
    n, m, d = (2_000, 200, 64) if quick else (50_000, 5_000, 64)
    centres = rng.standard_normal((10, d)).astype(np.float32)
    lab = rng.integers(0, 10, n + m)
    Xk = (centres[lab] + 1.5 * rng.standard_normal((n + m, d))).astype(np.float32)
    Xk_tr, yk_tr, Xk_q, yk_q = Xk[:n], lab[:n], Xk[n:], lab[n:]

    def knn(cls: Any) -> Callable[[], Any]:
        return lambda: cls(n_neighbors=5, algorithm="brute").fit(Xk_tr, yk_tr).predict(Xk_q)

    preds = {k: knn(c)() for k, c in (("theta", th.KNeighborsClassifier),
                                      ("sklearn", sk_neighbors.KNeighborsClassifier))}  # fmt: skip
    _, idx_th = th.KNeighborsClassifier(n_neighbors=5).fit(Xk_tr, yk_tr).kneighbors(Xk_q)
    _, idx_sk = sk_neighbors.KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(
        Xk_tr, yk_tr).kneighbors(Xk_q)  # fmt: skip
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx_th, idx_sk, strict=True)])
    add(f"Estimators: KNeighborsClassifier k=5 brute {n}x{d} float32, {m} queries fit + predict",
        knn(th.KNeighborsClassifier), knn(sk_neighbors.KNeighborsClassifier), "fit + predict",
        f"Euclidean, uniform weights, 10 Gaussian classes. Query accuracy: theta "
        f"{_acc(yk_q, preds['theta']):.4f}, scikit-learn {_acc(yk_q, preds['sklearn']):.4f}; "
        f"recall@5 of theta's neighbours against scikit-learn's {recall:.4f}; predictions "
        f"agree on {_acc(preds['theta'], preds['sklearn']):.4f}.")  # fmt: skip

    # --- 5. KMeans ---------------------------------------------------------------------------
    n, d, k = (5_000, 16, 8) if quick else (100_000, 16, 16)
    blobs = rng.standard_normal((k, d)) * 4.0
    Xc = blobs[rng.integers(0, k, n)] + rng.standard_normal((n, d))
    init = Xc[rng.choice(n, k, replace=False)].copy()

    def km(cls: Any, **kw: Any) -> Callable[[], Any]:
        return lambda: cls(n_clusters=k, init=init, n_init=1, max_iter=300, tol=1e-4,
                           **kw).fit(Xc)  # fmt: skip

    fitted = {"theta": _quiet(km(th.KMeans))(),
              "sklearn": _quiet(km(sk_cluster.KMeans, algorithm="lloyd"))()}  # fmt: skip
    q = {key: float(mod.inertia_) for key, mod in fitted.items()}
    it = {key: int(mod.n_iter_) for key, mod in fitted.items()}
    add(
        f"Estimators: KMeans {n}x{d}, k={k}, same init fit",
        km(th.KMeans),
        km(sk_cluster.KMeans, algorithm="lloyd"),
        "fit",
        f"float64 Gaussian blobs, Lloyd, n_init=1, the same explicit initial centres, "
        f"max_iter=300, tol=1e-4. Inertia: theta {q['theta']:.6g}, scikit-learn "
        f"{q['sklearn']:.6g}; iterations theta {it['theta']}, scikit-learn {it['sklearn']}.",
        kernels=True,
    )

    # --- 6. PCA ------------------------------------------------------------------------------
    n, d, c = (2_000, 64, 8) if quick else (50_000, 256, 16)
    Xp = rng.standard_normal((n, 32)) @ rng.standard_normal((32, d)) + 0.5 * rng.standard_normal(
        (n, d))  # fmt: skip

    def pca(cls: Any) -> Callable[[], Any]:
        return lambda: cls(n_components=c, svd_solver="covariance_eigh").fit(Xp)

    fitted = {"theta": pca(th.PCA)(), "sklearn": pca(sk_decomposition.PCA)()}
    q = {key: float(np.sum(mod.explained_variance_ratio_)) for key, mod in fitted.items()}
    err = {key: float(np.mean((mod.inverse_transform(mod.transform(Xp)) - Xp) ** 2))
           for key, mod in fitted.items()}  # fmt: skip

    def pca_ft(cls: Any) -> Callable[[], Any]:
        return lambda: cls(n_components=c, svd_solver="covariance_eigh").fit_transform(Xp)

    add(
        f"Estimators: PCA {n}x{d} -> {c} fit_transform",
        pca_ft(th.PCA),
        pca_ft(sk_decomposition.PCA),
        "fit_transform",
        f"float64, rank-32 signal plus noise, svd_solver='covariance_eigh' for both. Explained "
        f"variance ratio: theta {q['theta']:.6f}, scikit-learn {q['sklearn']:.6f}; "
        f"reconstruction MSE theta {err['theta']:.6f}, scikit-learn {err['sklearn']:.6f}.",
    )

    return {"estimators": f"theta.estimators vs scikit-learn {sklearn.__version__}, every "
            f"thread pool limited to {threads} (threadpoolctl)"}  # fmt: skip


if __name__ == "__main__":  # a quick standalone check: python benchmarks/bench_estimators.py
    s = Suite()
    print(register(s, quick=True))
    for case in s.cases:
        print(case.name, "|", case.note)
