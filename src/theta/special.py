"""Vectorised error function in pure NumPy: NumPy has no ``erf``, and the exact GELU needs one."""

import numpy as np

__all__ = ["erf"]

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

_INV_SQRT_PI = 5.6418958354775628695e-1
_THRESH = 0.46875
# erfc(6) ~ 2e-17 is below half an ulp of 1.0, so erf rounds to exactly 1 from here on.
_ONE_FROM = 6.0
_BLOCK = 32768


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
    evaluated only on the elements that fall in it.

    Parameters
    ----------
    x : np.ndarray
        Real input of any shape. Integer and boolean inputs are treated as float64.

    Returns
    -------
    np.ndarray
        ``erf(x)`` with the shape of ``x`` and its floating dtype (float64 for
        non-floating input), computed in float64. Exactly ``±1`` for large ``|x|``
        and ``±inf``; NaN for NaN.

    Examples
    --------
    >>> erf(np.array([0.0, 0.5, -1.0, np.inf]))
    array([ 0.        ,  0.52049988, -0.84270079,  1.        ])
    >>> erf(np.array([1.0], dtype=np.float32)).dtype
    dtype('float32')
    """
    x = np.asarray(x)
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
