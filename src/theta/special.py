"""Vectorised error function and GELU kernels in pure NumPy: NumPy has no ``erf``, and the
GELU of a transformer is hot enough to be worth cache-sized blocks (a chain of whole-array
passes streams every step through main memory, several times slower); with Numba, large
float32 GELUs run compiled instead (``theta.kernels``, one pass). Also the NumPy ``softmax``
and ``log_softmax`` (SciPy's names) that inference code shares, outside autograd."""

import math
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from theta import kernels

__all__ = ["erf", "gelu", "gelu_grad", "gelu_with_slope", "log_softmax", "sigmoid", "softmax"]

# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969), coefficients as in his CALERF routine (lowest order last).

# erf(x) = x * P(x^2) / Q(x^2) for |x| < 0.46875.
_A = (1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2,
      3.77485237685302021e2, 3.20937758913846947e3)  # fmt: skip
_B = (1.0, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3,
      2.84423683343917062e3)  # fmt: skip

# erfc(x) = exp(-x^2) * P(x) / Q(x) for 0.46875 <= x < 4.
_C = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0,
      6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2,
      1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3)  # fmt: skip
_D = (1.0, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2,
      1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3,
      3.43936767414372164e3, 1.23033935480374942e3)  # fmt: skip

# erfc(x) = exp(-x^2) / x * (1/sqrt(pi) - z * P(z) / Q(z)), z = 1/x^2, for x >= 4.
_P = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
      1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)  # fmt: skip
_Q = (1.0, 2.56852019228982242e0, 1.87295284992346725e0, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip

_THRESH = 0.46875
# erfc(6) ~ 2e-17 is below half an ulp of 1.0, so erf rounds to exactly 1 from here on.
_ONE_FROM = 6.0
_BLOCK = 32768

# float32 erf(z) = z * P(z^2) / Q(z^2) on |z| <= 4 (beyond it erf rounds to +-1 in float32):
# the rational minimax approximation of Eigen's and XLA's float erf, highest order first.
# Evaluated in float64 (in float32 its rounding reaches 4e-7), its error is below 1e-7.
_P32 = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
        -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
        -1.60960333262415e-02)  # fmt: skip
_Q32 = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
        -7.37332916720468e-03, -1.42647390514189e-02)  # fmt: skip

# Phi(-|x|) = erfc(|x| / sqrt 2) / 2 for float32 GELU by Abramowitz & Stegun 7.1.26,
# erfc(z) = t (a1 + a2 t + ... + a5 t^4) exp(-z^2), t = 1 / (1 + p z), error below 1.5e-7: the
# formula of PyTorch's own float32 erf on CPU, and half the passes of the rational above.
_AS_P = 0.3275911 / math.sqrt(2.0)
_AS_HALF = tuple(0.5 * c for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736,
                                   0.254829592))  # fmt: skip

# float32 GELU of this many elements or more runs compiled (theta.kernels): below it, starting
# the kernel costs more than NumPy's passes over a block that fits in cache.
_KERNEL_FROM = 4096

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TANH_A = 0.044715  # GPT-2's tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + A x^3)))
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _rational(t: np.ndarray, num: tuple[float, ...], den: tuple[float, ...]) -> np.ndarray:
    """Evaluate ``num(t) / den(t)`` by Horner's rule (highest order first, ``den`` monic)."""
    p = t * num[0]
    p += num[1]
    q = t + den[1]
    for a, b in zip(num[2:], den[2:], strict=True):
        p *= t
        p += a
        q *= t
        q += b
    p /= q
    return p


def _erf_abs(y: np.ndarray, out: np.ndarray) -> None:
    """Write ``erf(y)`` into ``out`` for a 1-D block of ``y = |x|`` (or NaN)."""
    # Caps y >= 6 at 1 and propagates NaN; every other element is overwritten below.
    np.minimum(y, 1.0, out=out)

    # Integer indices gather and scatter several times faster than boolean masks.
    small = np.flatnonzero(y < _THRESH)
    if small.size:
        ys = y[small]
        r = _rational(ys * ys, _A, _B)
        r *= ys
        out[small] = r

    mid = np.flatnonzero((y >= _THRESH) & (y < 4.0))
    if mid.size:
        ym = y[mid]
        r = _rational(ym, _C, _D)
        # Cody splits exp(-y^2) to keep erfc's relative accuracy; erf = 1 - erfc >= 0.49
        # here, so the rounding of y*y is damped away and a single exp suffices.
        r *= np.exp(-ym * ym)
        np.subtract(1.0, r, out=r)
        out[mid] = r

    tail = np.flatnonzero((y >= 4.0) & (y < _ONE_FROM))
    if tail.size:
        yt = y[tail]
        z = 1.0 / (yt * yt)
        r = _rational(z, _P, _Q)
        r *= z
        np.subtract(_INV_SQRT_PI, r, out=r)
        r /= yt
        r *= np.exp(-yt * yt)
        np.subtract(1.0, r, out=r)
        out[tail] = r


def erf(x: np.ndarray) -> np.ndarray:
    """Error function, elementwise, accurate to float64 precision.

    Uses W. J. Cody's rational Chebyshev approximations on the ranges
    ``|x| < 0.46875``, ``0.46875 <= |x| < 4`` and ``|x| >= 4``; each range is
    evaluated only on the elements that fall in it. float32 input takes a single
    rational approximation instead, ten times faster and within 1e-7 of the exact
    value (float32's own rounding near 1 is 6e-8).

    Parameters
    ----------
    x : np.ndarray
        Real input of any shape. Integer and boolean inputs are treated as float64.

    Returns
    -------
    np.ndarray
        ``erf(x)`` with the shape of ``x`` and its floating dtype (float64 for
        non-floating input), computed in float64. ``±1`` for large ``|x|`` and
        ``±inf``; NaN for NaN.

    Examples
    --------
    >>> erf(np.array([0.0, 0.5, -1.0, np.inf]))
    array([ 0.        ,  0.52049988, -0.84270079,  1.        ])
    >>> erf(np.array([1.0], dtype=np.float32)).dtype
    dtype('float32')
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        x = np.asarray(x, order="C")
        out = np.empty(x.shape, np.float32)
        erf32 = _Erf32()
        for o, xb in _blocks(out, x):
            o[...] = erf32(xb, 1.0)[0]
        return out
    if np.issubdtype(x.dtype, np.floating):
        dtype = x.dtype
    elif np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        dtype = np.dtype(np.float64)
    else:
        raise TypeError(f"erf expects real input, got dtype {x.dtype}")

    y = np.abs(x, dtype=np.float64).ravel()
    out = np.empty_like(y)
    # Cache-sized blocks: on whole arrays every Horner step streams through main memory,
    # which is several times slower.
    for start in range(0, y.size, _BLOCK):
        _erf_abs(y[start : start + _BLOCK], out[start : start + _BLOCK])
    np.copysign(out, x.ravel(), out=out)
    return out.reshape(x.shape).astype(dtype, copy=False)


def _blocks(*arrays: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Matching cache-sized 1-D blocks of same-size C-contiguous arrays."""
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, flat[0].size, _BLOCK):
        yield [f[start : start + _BLOCK] for f in flat]


def _horner(t: np.ndarray, coefs: tuple[float, ...], out: np.ndarray) -> np.ndarray:
    """``out = poly(t)``, coefficients highest order first."""
    np.multiply(t, coefs[0], out=out)
    for c in coefs[1:-1]:
        out += c
        out *= t
    out += coefs[-1]
    return out


class _Erf32:
    """float64 scratch for the float32 erf of one block at a time, allocated once per call."""

    def __init__(self) -> None:
        self.z, self.z2, self.p, self.q = (np.empty(_BLOCK) for _ in range(4))

    def __call__(self, x: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """``erf(z)`` and ``z**2`` in float64 for a float32 block ``x``, ``z = scale * x``
        (views of the scratch, valid until the next call)."""
        n = x.size
        z, z2, p, q = self.z[:n], self.z2[:n], self.p[:n], self.q[:n]
        np.multiply(x, scale, out=z, dtype=np.float64)
        np.multiply(z, z, out=z2)
        np.clip(z, -4.0, 4.0, out=z)  # NaN stays NaN
        zc2 = np.minimum(z2, 16.0, out=q)
        _horner(zc2, _P32, out=p)
        p *= z
        p /= _horner(zc2, _Q32, out=z)  # z's last use was just above
        np.clip(p, -1.0, 1.0, out=p)  # the fit overshoots 1 by ~1e-8 at the ends
        return p, z2


def gelu(x: np.ndarray, approximate: str = "none", *, out: np.ndarray | None = None,
         bias: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """GELU ``x * Phi(x)`` on an array: exact (erf) or GPT-2's tanh approximation.

    float32 takes the formula of PyTorch's float32 kernels (the exact form through
    Abramowitz & Stegun's erfc, within 4e-7 of the true value); float64 is exact to rounding.
    Like PyTorch's, the exact float32 form gives NaN at ``±inf``. With Numba, float32 arrays
    of 4096 elements or more run compiled (:mod:`theta.kernels`): one pass for bias, value
    and slope, each within 3 float32 ulp (of ``max(1, |x|)``) of the exact one.

    Parameters
    ----------
    x : np.ndarray of floating dtype, any shape
    approximate : {"none", "tanh"}
    out : np.ndarray, optional
        Where to write the result, e.g. ``x`` itself (C-contiguous, ``x``'s shape and dtype).
    bias : np.ndarray of shape (x.shape[-1],), optional
        Added to ``x`` first (in place when ``out`` is ``x``): a layer's pre-activation.

    Returns
    -------
    np.ndarray of the shape and dtype of ``x`` (``out`` if given)

    Examples
    --------
    >>> gelu(np.array([-1.0, 0.0, 2.0])).round(4)
    array([-0.1587,  0.    ,  1.9545])
    """
    x = np.asarray(x, order="C")
    compiled = _compiled(x, bias)
    if compiled is not None:
        out = np.empty(x.shape, x.dtype) if out is None else out
        _gelu_compiled(compiled, approximate, x, bias, None, out, None)
        return out
    if bias is not None:
        x = np.add(x, bias, out=x if out is x else None)
    if x.dtype != np.float32:
        if approximate == "none":
            value = x * (0.5 * (1.0 + erf(x * _INV_SQRT_2)))
        else:
            value = x * (0.5 * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _TANH_A * x**3))))
        if out is None:
            return value
        out[...] = value
        return out
    out = np.empty(x.shape, x.dtype) if out is None else out
    _gelu32(x, approximate, out, None)
    return out


def gelu_with_slope(x: np.ndarray, approximate: str = "none", *, overwrite_x: bool = False,
                    bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``gelu(x)`` and its derivative ``d gelu / dx`` together, from one pass over ``x``.

    For an op that saves the slope instead of its input: its backward is then one product,
    where recomputing from ``x`` costs as much again as the forward. ``overwrite_x`` lets the
    slope take ``x``'s memory (C-contiguous ``x``); ``bias`` (``x.shape[-1]``,) is added to
    ``x`` first, as in :func:`gelu`.

    Returns
    -------
    (value, slope) : np.ndarray of the shape and dtype of ``x`` each
    """
    x = np.asarray(x, order="C")
    compiled = _compiled(x, bias)
    if compiled is not None:
        value = np.empty(x.shape, x.dtype)
        slope = x if overwrite_x else np.empty(x.shape, x.dtype)
        _gelu_compiled(compiled, approximate, x, bias, None, value, slope)
        return value, slope
    if bias is not None:
        x = np.add(x, bias, out=x if overwrite_x else None)
    if x.dtype != np.float32:
        value, slope = gelu(x, approximate), gelu_grad(x, np.ones_like(x), approximate)
        if overwrite_x:
            x[...] = slope
        return value, x if overwrite_x else slope
    value = np.empty(x.shape, x.dtype)
    slope = x if overwrite_x else np.empty(x.shape, x.dtype)
    _gelu32(x, approximate, value, slope)
    return value, slope


def gelu_grad(x: np.ndarray, grad: np.ndarray, approximate: str = "none") -> np.ndarray:
    """``grad * d gelu(x) / dx`` from ``x`` alone, so a forward pass need not save anything.

    Parameters
    ----------
    x, grad : np.ndarray of the same shape and floating dtype
    approximate : {"none", "tanh"}

    Returns
    -------
    np.ndarray of the shape and dtype of ``x``
    """
    x, grad = np.asarray(x, order="C"), np.asarray(grad, order="C")
    compiled = _compiled(x, None) if grad.dtype == x.dtype and grad.shape == x.shape else None
    if compiled is not None:
        out = np.empty(x.shape, x.dtype)
        _gelu_compiled(compiled, approximate, x, None, grad, None, out)
        return out
    if x.dtype != np.float32 and approximate == "none":
        cdf = 0.5 * (1.0 + erf(x * _INV_SQRT_2))
        return grad * (cdf + x * (_INV_SQRT_2 * _INV_SQRT_PI) * np.exp(-0.5 * x * x))
    if x.dtype != np.float32:
        # 0.5 (1 + t + x (1 - t^2) c (1 + 3 a x^2)), t = tanh(c (x + a x^3))
        t = np.tanh(_SQRT_2_OVER_PI * (x + _TANH_A * x**3))
        slope = 1.0 + t + x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _TANH_A * x * x)
        return grad * (0.5 * slope)
    out = np.empty(x.shape, x.dtype)
    _gelu32(x, approximate, None, out)
    out *= grad
    return out


def _compiled(x: np.ndarray, bias: np.ndarray | None) -> ModuleType | None:
    """The compiled GELU kernels when they take ``x`` (C-contiguous float32, at least
    ``_KERNEL_FROM`` elements) and ``bias`` (None, or float32 of shape ``x.shape[-1:]``),
    else None."""
    if x.dtype != np.float32 or x.size < _KERNEL_FROM:
        return None
    if bias is not None and (bias.dtype != np.float32 or bias.shape != x.shape[-1:]):
        return None  # NumPy broadcasts such a bias, or says why it cannot
    return kernels.load("activations")


def _gelu_compiled(compiled: ModuleType, approximate: str, x: np.ndarray,
                   bias: np.ndarray | None, grad: np.ndarray | None, value: np.ndarray | None,
                   slope: np.ndarray | None) -> None:  # fmt: skip
    """Run the compiled kernel (see ``theta.kernels._activations``) on 2-D views: rows of
    ``bias.size`` columns with a bias, else one row."""
    cols = x.size if bias is None else bias.size
    run = compiled.gelu_erf if approximate == "none" else compiled.gelu_tanh
    x, grad, value, slope = (None if a is None else a.reshape(-1, cols)
                             for a in (x, grad, value, slope))  # fmt: skip
    run(x, None if bias is None else np.ascontiguousarray(bias), grad, value, slope)


def _gelu32(x: np.ndarray, approximate: str, value: np.ndarray | None,
            slope: np.ndarray | None) -> None:  # fmt: skip
    """float32 GELU of C-contiguous ``x`` into ``value`` and its slope into ``slope`` (either may
    be None; one may be ``x`` itself), block by block: each block is read once for both and
    the scratch stays in cache."""
    n = min(x.size, _BLOCK)
    a, b, c = np.empty((3, n), np.float32)
    outs = [o if o is not None else x for o in (value, slope)]  # x stands in, never written
    kernel = _gelu_erf32 if approximate == "none" else _gelu_tanh32
    for xb, vb, sb in _blocks(x, *outs):
        m = xb.size
        kernel(xb, vb if value is not None else None, sb if slope is not None else None,
               a[:m], b[:m], c[:m])  # fmt: skip


def _gelu_erf32(x: np.ndarray, value: np.ndarray | None, slope: np.ndarray | None,
                a: np.ndarray, e: np.ndarray, h: np.ndarray) -> None:  # fmt: skip
    """Exact GELU of one block: ``max(x, 0) - |x| Phi(-|x|)``, slope ``Phi(x) + x phi(x)``
    (either output may be ``x``, which is read for the last time before they are written)."""
    np.abs(x, out=a)
    np.multiply(a, _AS_P, out=e)
    e += 1.0
    t = np.reciprocal(e, out=e)
    _horner(t, _AS_HALF, out=h)
    h *= t
    np.multiply(x, x, out=e)
    e *= -0.5
    np.exp(e, out=e)  # exp(-x^2 / 2)
    h *= e  # Phi(-|x|)
    if slope is not None:
        # Phi(x) + x phi(x) = 0.5 + sign(x) (0.5 - Phi(-|x|) + |x| phi(x))
        e *= a
        e *= _INV_SQRT_2 * _INV_SQRT_PI
        e -= h
        e += 0.5
        np.copysign(e, x, out=e)
    if value is not None:
        h *= a
        np.maximum(x, 0.0, out=a)
        np.subtract(a, h, out=value)
    if slope is not None:
        np.add(e, 0.5, out=slope)


def _gelu_tanh32(x: np.ndarray, value: np.ndarray | None, slope: np.ndarray | None,
                 x2: np.ndarray, v: np.ndarray, d: np.ndarray) -> None:  # fmt: skip
    """GPT-2's GELU of one block: ``x v``, ``v = (1 + t) / 2``, ``t = tanh(c (x + a x^3))``;
    slope ``v + 4 v (1 - v) x (c / 2) (1 + 3 a x^2)`` (``1 - t^2 = 4 v (1 - v)``); either
    output may be ``x``, which is read for the last time before they are written."""
    np.multiply(x, x, out=x2)
    np.multiply(x2, _SQRT_2_OVER_PI * _TANH_A, out=v)
    v += _SQRT_2_OVER_PI
    v *= x
    np.tanh(v, out=v)
    v *= 0.5
    v += 0.5
    if slope is not None:
        np.multiply(x2, 6.0 * _SQRT_2_OVER_PI * _TANH_A, out=d)
        d += 2.0 * _SQRT_2_OVER_PI
        d *= x
    if value is not None:
        np.multiply(v, x, out=value)
    if slope is not None:
        np.subtract(1.0, v, out=slope)
        slope *= v
        slope *= d
        slope += v


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function that only ever exponentiates ``-|x|``, so it cannot overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e).astype(x.dtype, copy=False) / (1.0 + e)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, as :func:`scipy.special.softmax`.

    The maximum is subtracted first, so no exponent is positive and nothing overflows; a
    ``-inf`` entry gets probability 0.

    Parameters
    ----------
    x : ndarray
        Scores (logits) of any shape.
    axis : int, default=-1
        The axis the probabilities sum to 1 along.

    Returns
    -------
    ndarray of the shape and floating dtype of ``x``

    Examples
    --------
    >>> softmax(np.array([[0.0, np.log(3.0)], [1e300, -np.inf]]))
    array([[0.25, 0.75],
           [1.  , 0.  ]])
    """
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``, as :func:`scipy.special.log_softmax`.

    Parameters and result as :func:`softmax`'s. Computed from the shifted scores, never as
    ``log(softmax(x))``, which underflows to ``-inf`` for a large gap between scores.

    Examples
    --------
    >>> log_softmax(np.array([0.0, 1000.0]))
    array([-1000.,     0.])
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
