"""Running mean and variance, for normalising observations and rewards as they stream in.

Policy-gradient methods learn faster when the network sees inputs of unit scale and the
value target has a steady size. ``RunningMeanStd`` keeps the mean and variance of
everything it has seen, merged batch by batch (Chan et al.'s parallel formula, as
Stable-Baselines3's ``VecNormalize`` and Gymnasium's ``NormalizeObservation`` do). Agents
hold one for observations and one for the discounted return, and save them with themselves
through ``theta.io``, so a loaded agent normalises its inputs as it did while learning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RunningMeanStd"]


class RunningMeanStd:
    """Mean and variance of a stream of arrays of shape ``shape``, updated batch by batch.

    Parameters
    ----------
    shape : tuple of int, default=()
        The shape of one sample.
    epsilon : float, default=1e-4
        The weight of the initial estimate (mean 0, variance 1), so the first division is
        by a variance near 1 rather than by 0.

    Examples
    --------
    >>> import numpy as np
    >>> rms = RunningMeanStd(shape=(2,), epsilon=0.0)
    >>> rms.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> rms.mean, rms.var
    (array([1., 2.]), array([1., 1.]))
    >>> rms.normalize(np.array([3.0, 12.0]), clip=5.0).round(6)
    array([2., 5.])
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: Any) -> None:
        """Merge the samples ``batch`` of shape ``(n, *shape)`` into the running estimate."""
        batch = np.asarray(batch, dtype=np.float64)
        n = batch.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = batch.mean(axis=0), batch.var(axis=0)
        delta = batch_mean - self.mean
        total = self.count + n
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: Any, clip: float = np.inf, eps: float = 1e-8) -> np.ndarray:
        """``(x - mean) / sqrt(var + eps)``, clipped to ``[-clip, clip]``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + eps)
        return np.clip(z, -clip, clip)

    def __theta_state__(self) -> dict[str, Any]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    @classmethod
    def __theta_restore__(cls, state: dict[str, Any]) -> RunningMeanStd:
        rms = cls(np.shape(state["mean"]))
        rms.mean = np.asarray(state["mean"], dtype=np.float64)
        rms.var = np.asarray(state["var"], dtype=np.float64)
        rms.count = float(state["count"])
        return rms

    def __repr__(self) -> str:
        return f"RunningMeanStd(shape={self.mean.shape}, count={self.count:g})"
