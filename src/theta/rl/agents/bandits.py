"""Bandit agents: ε-greedy, UCB1 and Thompson sampling, with regret curves.

A bandit has one state, so learning is estimating each arm's mean reward while pulling arms
that look good: the exploration–exploitation trade-off with nothing else in the way. The
three agents differ only in how they choose the next arm:

- ``EpsilonGreedy`` pulls a random arm with probability ε, else the best-looking one. With
  a constant ε it keeps exploring forever, so its regret grows linearly.
- ``UCB1`` pulls the arm with the highest optimistic estimate, mean + c·sqrt(ln t / n): an arm
  pulled rarely gets the benefit of the doubt (Auer et al., 2002). Regret grows as log t.
- ``ThompsonSampling`` draws one plausible mean per arm from its posterior and pulls the best
  draw, so each arm is pulled as often as it is probably the best. Regret grows as log t.

When the environment reports ``info["expected_regret"]`` (theta's ``MultiArmedBandit`` does),
``learn`` records ``regret_``: the cumulative expected regret after every pull.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.rl.agents.base import EPSILON_PARAMS, RATE, Agent
from theta.rl.policies import epsilon_greedy, greedy
from theta.validation import Interval, Options

__all__ = ["EpsilonGreedy", "ThompsonSampling", "UCB1"]


class _Run:
    """What one ``learn`` call tracks besides the learned state."""

    def __init__(self, schedule: Any = None) -> None:
        self.schedule = schedule
        self.actions: list[int] = []
        self.regrets: list[float] = []


class _BanditAgent(Agent):
    """Shared bookkeeping: pull counts, mean reward estimates, the actions and the regret."""

    _fitted_attr = "values_"

    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        self.counts_ = np.zeros(self.n_actions_, dtype=np.int64)
        self.values_ = np.zeros(self.n_actions_)
        return _Run()

    def _observe(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool,
        info: dict,
        step: int,
        run: _Run,
    ) -> None:
        self.counts_[action] += 1
        self.values_[action] += (reward - self.values_[action]) / self.counts_[action]
        self._update(action, reward, step)
        run.actions.append(action)
        if "expected_regret" in info:
            run.regrets.append(info["expected_regret"])

    def _update(self, action: int, reward: float, step: int) -> None:
        """Agent-specific learning from one pull (beyond the running mean)."""

    def _run_state(self, run: _Run) -> dict[str, Any]:
        return {"regrets": np.asarray(run.regrets, dtype=np.float64)}  # actions_ has the rest

    def _restore_run(self, env: Any, state: dict[str, Any]) -> _Run:
        run = _Run()
        run.actions = self.actions_.tolist()
        run.regrets = state["regrets"].tolist()
        return run

    def _finish(self, run: _Run) -> None:
        self.actions_ = np.asarray(run.actions, dtype=np.int64)
        if run.regrets and len(run.regrets) == len(run.actions):
            self.regret_ = np.cumsum(run.regrets)

    def _predict(self, obs: Any, deterministic: bool) -> int:
        if deterministic:
            return int(np.argmax(self.values_))
        return self._choose(self.n_steps_)

    def _act(self, obs: Any, step: int, run: _Run) -> int:
        return self._choose(step, run)

    def _choose(self, step: int, run: _Run | None = None) -> int:
        raise NotImplementedError


class EpsilonGreedy(_BanditAgent):
    """Pull a random arm with probability ε, otherwise the arm with the best mean so far.

    Parameters
    ----------
    epsilon : float, default=0.1
        Exploration probability at the start, in ``[0, 1]``.
    epsilon_final, epsilon_schedule, epsilon_decay_steps
        ε as a function of the pull (see ``theta.rl.policies``); the default ``"constant"``
        keeps ``epsilon`` throughout.
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    values_ : ndarray of shape (n_arms,)
        Mean reward of each arm so far.
    counts_ : ndarray of shape (n_arms,)
        Pulls of each arm.
    actions_ : ndarray of shape (n_pulls,)
        The arm pulled at each step.
    regret_ : ndarray of shape (n_pulls,)
        Cumulative expected regret (when the environment reports it).
    episode_returns_, episode_lengths_ : list

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> agent = EpsilonGreedy(random_state=0).learn(MultiArmedBandit([0.2, 0.8]), 500)
    >>> agent.predict(0)
    1
    """

    def __init__(
        self,
        epsilon: float = 0.1,
        *,
        epsilon_final: float = 0.01,
        epsilon_schedule: str = "constant",
        epsilon_decay_steps: int = 1000,
        random_state: Any = None,
    ) -> None:
        self.epsilon = epsilon
        self.epsilon_final = epsilon_final
        self.epsilon_schedule = epsilon_schedule
        self.epsilon_decay_steps = epsilon_decay_steps
        self.random_state = random_state

    _parameter_constraints = EPSILON_PARAMS

    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        run = super()._setup(env, rng)
        run.schedule = self._epsilon_schedule()
        return run

    def _restore_run(self, env: Any, state: dict[str, Any]) -> _Run:
        run = super()._restore_run(env, state)
        run.schedule = self._epsilon_schedule()
        return run

    def _choose(self, step: int, run: _Run | None = None) -> int:
        schedule = run.schedule if run is not None else self._epsilon_schedule()
        return epsilon_greedy(self.values_, schedule(step), self._rng)


class UCB1(_BanditAgent):
    """Pull the arm with the highest upper confidence bound, ``mean + c * sqrt(ln t / n)``.

    Every arm is pulled once first. With rewards in ``[0, 1]``, ``c = sqrt(2)`` is Auer et
    al.'s UCB1 and its regret is at most logarithmic in the number of pulls; scale ``c`` with
    the spread of the rewards otherwise.

    Parameters
    ----------
    c : float, default=sqrt(2)
        Width of the confidence bonus, in ``[0, inf)``; 0 is pure greed.
    random_state : int or numpy.random.Generator, optional
        Unused by the rule (it is deterministic); kept for the common agent API.

    Attributes
    ----------
    values_, counts_, actions_, regret_, episode_returns_, episode_lengths_
        As for :class:`EpsilonGreedy`.

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> agent = UCB1().learn(MultiArmedBandit([0.2, 0.8]), 500)
    >>> agent.predict(0), int(agent.counts_[1]) > 400
    (1, True)
    """

    def __init__(self, c: float = math.sqrt(2.0), *, random_state: Any = None) -> None:
        self.c = c
        self.random_state = random_state

    _parameter_constraints = {"c": [Interval(numbers.Real, 0, None)]}

    def _choose(self, step: int, run: _Run | None = None) -> int:
        t = int(self.counts_.sum())
        if t < self.n_actions_ and self.counts_.min() == 0:
            return int(np.argmin(self.counts_))  # the first arm never pulled
        bonus = self.c * np.sqrt(math.log(t) / self.counts_)
        return greedy(self.values_ + bonus)


class ThompsonSampling(_BanditAgent):
    """Pull the arm whose mean, drawn from its posterior, is highest (probability matching).

    Parameters
    ----------
    kind : {"bernoulli", "gaussian"}, default="bernoulli"
        ``"bernoulli"``: rewards in ``[0, 1]``, a Beta(``prior_alpha``, ``prior_beta``) prior
        per arm, updated with ``alpha += r``, ``beta += 1 - r``. ``"gaussian"``: a
        Normal(``prior_mean``, ``prior_std``²) prior per arm and Gaussian rewards of known
        standard deviation ``noise_std`` (the conjugate update).
    prior_alpha, prior_beta : float, default=1.0
        Beta prior (1, 1 is uniform), each in ``(0, inf)``.
    prior_mean : float, default=0.0
    prior_std, noise_std : float, default=1.0
        In ``(0, inf)``.
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    posterior_mean_, posterior_std_ : ndarray of shape (n_arms,)
        Each arm's posterior over its mean reward.
    values_, counts_, actions_, regret_, episode_returns_, episode_lengths_
        As for :class:`EpsilonGreedy`.

    Examples
    --------
    >>> from theta.rl import MultiArmedBandit
    >>> agent = ThompsonSampling(random_state=0).learn(MultiArmedBandit([0.2, 0.8]), 500)
    >>> agent.predict(0)
    1
    """

    __theta_state_names__ = ("_alpha", "_beta", "_sums")

    def __init__(
        self,
        kind: str = "bernoulli",
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        prior_mean: float = 0.0,
        prior_std: float = 1.0,
        noise_std: float = 1.0,
        random_state: Any = None,
    ) -> None:
        self.kind = kind
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.prior_mean = prior_mean
        self.prior_std = prior_std
        self.noise_std = noise_std
        self.random_state = random_state

    _parameter_constraints = {
        "kind": [Options({"bernoulli", "gaussian"})],
        "prior_alpha": [RATE],
        "prior_beta": [RATE],
        "prior_std": [RATE],
        "noise_std": [RATE],
        "prior_mean": [Interval(numbers.Real, None, None)],
    }

    def _setup(self, env: Any, rng: np.random.Generator) -> _Run:
        run = super()._setup(env, rng)
        n = self.n_actions_
        self._alpha = np.full(n, float(self.prior_alpha))
        self._beta = np.full(n, float(self.prior_beta))
        self._sums = np.zeros(n)
        self.posterior_mean_ = np.zeros(n)
        self.posterior_std_ = np.zeros(n)
        for arm in range(n):
            self._refresh(arm)
        return run

    def _update(self, action: int, reward: float, step: int) -> None:
        if self.kind == "bernoulli":
            if not 0.0 <= reward <= 1.0:
                raise ValueError(
                    f"ThompsonSampling(kind='bernoulli') needs rewards in [0, 1]; got {reward} "
                    f"at step {step}. Use kind='gaussian' for other rewards."
                )
            self._alpha[action] += reward
            self._beta[action] += 1.0 - reward
        else:
            self._sums[action] += reward
        self._refresh(action)

    def _refresh(self, arm: int) -> None:
        """Recompute the posterior mean and standard deviation of ``arm``."""
        if self.kind == "bernoulli":
            a, b = self._alpha[arm], self._beta[arm]
            self.posterior_mean_[arm] = a / (a + b)
            self.posterior_std_[arm] = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        else:
            precision = self.prior_std**-2 + self.counts_[arm] / self.noise_std**2
            self.posterior_mean_[arm] = (
                self.prior_mean * self.prior_std**-2 + self._sums[arm] / self.noise_std**2
            ) / precision
            self.posterior_std_[arm] = precision**-0.5

    def _choose(self, step: int, run: _Run | None = None) -> int:
        if self.kind == "bernoulli":
            draws = self._rng.beta(self._alpha, self._beta)
        else:
            draws = self.posterior_mean_ + self.posterior_std_ * self._rng.standard_normal(
                self.n_actions_
            )
        return int(np.argmax(draws))  # continuous draws: ties have probability 0

    def _predict(self, obs: Any, deterministic: bool) -> int:
        if deterministic:
            return int(np.argmax(self.posterior_mean_))
        return self._choose(self.n_steps_)
