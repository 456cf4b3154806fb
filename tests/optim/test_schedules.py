"""Learning-rate schedules: the same rates as PyTorch's schedulers over 100 steps, the shape
of cosine-with-warmup, the stateful plateau rule and its state dict, and argument checks.
"""

import functools
import math

import numpy as np
import pytest

from theta import Tensor
from theta.optim import (
    SGD,
    Adam,
    LRSchedule,
    ReduceLROnPlateau,
    constant,
    cosine_with_warmup,
    exponential,
    set_lr,
    step_decay,
)

torch = pytest.importorskip("torch")


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def torch_lrs(make_scheduler, lrs=(0.1,), n_steps=100, metrics=None):
    """The rate of every group at each of n_steps steps under a PyTorch scheduler."""
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(params)
    scheduler = make_scheduler(opt)
    out = []
    for step in range(n_steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()  # before scheduler.step(), or PyTorch warns
        scheduler.step() if metrics is None else scheduler.step(metrics[step])
    return np.array(out)


def theta_lrs(schedule, lrs=(0.1,), n_steps=100):
    opt = SGD([{"params": [leaf([0.0])], "lr": lr} for lr in lrs])
    sched = LRSchedule(opt, schedule)
    out = []
    for _ in range(n_steps):
        out.append([g["lr"] for g in opt.param_groups])
        sched.step()
    return np.array(out)


# --- against PyTorch --------------------------------------------------------------------------


@pytest.mark.parametrize("step_size, gamma", [(7, 0.5), (1, 0.9), (30, 0.1)])
def test_step_decay_matches_torch_step_lr(step_size, gamma):
    expected = torch_lrs(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma)
    )
    ours = [step_decay(s, base_lr=0.1, step_size=step_size, gamma=gamma) for s in range(100)]
    np.testing.assert_allclose(ours, expected[:, 0], rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.95, 0.5, 1.0])
def test_exponential_matches_torch_exponential_lr(gamma):
    expected = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=gamma))
    ours = [exponential(s, base_lr=0.1, gamma=gamma) for s in range(100)]
    np.testing.assert_allclose(ours, expected[:, 0], rtol=1e-12)


def test_lr_schedule_applies_per_group_base_rates_like_torch():
    lrs = (0.1, 0.03)
    expected = torch_lrs(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5), lrs=lrs
    )
    ours = theta_lrs(functools.partial(step_decay, step_size=10, gamma=0.5), lrs=lrs)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    expected = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.97), lrs=lrs)
    ours = theta_lrs(functools.partial(exponential, gamma=0.97), lrs=lrs)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def _plateau_metrics(rng, n=100):
    """Improving stretches, plateaus, a spike and small noise: every branch of the rule."""
    base = np.concatenate([
        np.linspace(1.0, 0.5, 15), np.full(20, 0.5), np.linspace(0.5, 0.3, 10),
        0.3 + 1e-6 * rng.standard_normal(25), np.full(5, 2.0), np.linspace(0.3, 0.1, 25),
    ])  # fmt: skip
    return base[:n]


PLATEAU_CONFIGS = [
    dict(),
    dict(patience=3),
    dict(patience=2, factor=0.5, cooldown=4),
    dict(patience=0, factor=0.1, min_lr=1e-4),
    dict(patience=0, factor=0.1),  # reaches the eps rule: reductions below 1e-8 are ignored
    dict(patience=2, threshold=0.05, threshold_mode="abs"),
    dict(patience=2, threshold=0.1),
    dict(mode="max", patience=2, factor=0.5),
    dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs", cooldown=2),
]


@pytest.mark.parametrize("kwargs", PLATEAU_CONFIGS, ids=[str(k) for k in PLATEAU_CONFIGS])
def test_reduce_on_plateau_matches_torch(kwargs, rng):
    metrics = _plateau_metrics(rng)
    if kwargs.get("mode") == "max":
        metrics = -metrics
    expected = torch_lrs(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs), metrics=metrics
    )[1:, 0]  # torch_lrs records the rate before each step; ours is returned by it
    plateau = ReduceLROnPlateau(base_lr=0.1, **kwargs)
    ours = [plateau.step(m) for m in metrics][:-1]
    np.testing.assert_allclose(ours, expected, rtol=1e-15)
    assert len(set(ours)) > 1 or kwargs == {}, "the configuration should reduce at least once"


def test_reduce_on_plateau_counts_nan_as_bad():
    plateau = ReduceLROnPlateau(patience=1, factor=0.5)
    assert [plateau.step(m) for m in [1.0, math.nan, math.nan]] == [1.0, 1.0, 0.5]


def test_reduce_on_plateau_state_dict_resumes_exactly(rng):
    metrics = _plateau_metrics(rng)
    kwargs = dict(patience=2, factor=0.5, cooldown=3)
    whole = ReduceLROnPlateau(**kwargs)
    uninterrupted = [whole.step(m) for m in metrics]
    first = ReduceLROnPlateau(**kwargs)
    for m in metrics[:40]:
        first.step(m)
    second = ReduceLROnPlateau(**kwargs)
    second.load_state_dict(first.state_dict())
    assert [second.step(m) for m in metrics[40:]] == uninterrupted[40:]
    assert all(type(v) in (int, float) for v in first.state_dict().values())


# --- cosine with warmup -----------------------------------------------------------------------


def test_cosine_with_warmup_shape():
    base, warmup, total, min_lr = 0.6, 10, 110, 0.06
    lrs = [cosine_with_warmup(s, base_lr=base, warmup=warmup, total=total, min_lr=min_lr)
           for s in range(200)]  # fmt: skip
    ramp = lrs[:warmup]
    np.testing.assert_allclose(ramp, base * np.arange(1, warmup + 1) / warmup, rtol=1e-15)
    assert lrs[0] == pytest.approx(base / warmup) and lrs[warmup - 1] == base
    assert lrs[warmup] == pytest.approx(base, rel=1e-15), "the cosine starts at the peak"
    assert np.all(np.diff(lrs[warmup:]) <= 0), "non-increasing after warmup"
    mid = warmup + (total - warmup) // 2
    assert lrs[mid] == pytest.approx((base + min_lr) / 2, rel=1e-12)
    assert lrs[total] == pytest.approx(min_lr, rel=1e-12)
    assert all(lr == lrs[total] for lr in lrs[total:]), "flat at min_lr after total"
    assert min(lrs) >= min_lr - 1e-15 and max(lrs) == pytest.approx(base, rel=1e-15)


def test_cosine_without_warmup_and_to_zero():
    lrs = [cosine_with_warmup(s, base_lr=1.0, warmup=0, total=4) for s in range(6)]
    quarter = 0.5 * math.cos(math.pi / 4)
    np.testing.assert_allclose(lrs, [1.0, 0.5 + quarter, 0.5, 0.5 - quarter, 0.0, 0.0], atol=1e-15)


def test_cosine_drives_an_optimizer_through_lr_schedule_down_to_zero():
    w = leaf([1.0])
    opt = Adam([w], lr=0.01)
    sched = LRSchedule(opt, functools.partial(cosine_with_warmup, warmup=5, total=20))
    seen = []
    for _ in range(25):
        seen.append(opt.param_groups[0]["lr"])
        w.grad = np.ones(1)
        opt.step()
        sched.step()
    assert seen[4] == 0.01 and seen[20:] == [0.0] * 5
    fresh = Adam([leaf([1.0])], lr=0.01)
    restored = LRSchedule(fresh, sched.schedule)
    restored.load_state_dict(sched.state_dict())
    assert restored.last_step == 25 and fresh.param_groups[0]["lr"] == 0.0


# --- pure functions, helpers and checks ---------------------------------------------------------


def test_schedules_are_pure_functions_of_the_step():
    steps = [5, 0, 99, 5, 42, 0]
    for fn in (
        functools.partial(constant, base_lr=0.1),
        functools.partial(step_decay, base_lr=0.1, step_size=3),
        functools.partial(exponential, base_lr=0.1, gamma=0.9),
        functools.partial(cosine_with_warmup, base_lr=0.1, warmup=3, total=50),
    ):
        first = [fn(s) for s in steps]
        assert [fn(s) for s in reversed(steps)] == first[::-1]
        assert first[0] == first[3] and first[1] == first[5]
        assert all(type(lr) is float for lr in first)
    assert constant(10**6, base_lr=0.1) == 0.1


def test_set_lr_sets_every_group_and_allows_zero():
    opt = SGD([{"params": [leaf([1.0])], "lr": 0.1}, {"params": [leaf([2.0])], "lr": 0.2}])
    set_lr(opt, 0.05)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05]
    set_lr(opt, 0)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]
    with pytest.raises(
        ValueError,
        match=r"The 'lr' parameter of set_lr must be a float in the "
        r"range \[0, inf\)\.",
    ):
        set_lr(opt, -0.1)
    with pytest.raises(ValueError, match=r"'lr' parameter of set_lr .* Got nan instead"):
        set_lr(opt, math.nan)
    with pytest.raises(ValueError, match=r"'lr' parameter of set_lr .* Got inf instead"):
        set_lr(opt, math.inf)


def test_lr_schedule_refuses_a_schedule_that_returns_a_bad_rate():
    opt = SGD([leaf([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"'lr' parameter of LRSchedule must .* Got -0\.1 instead"):
        LRSchedule(opt, lambda step, *, base_lr: -base_lr)


BAD_CALLS = [
    (lambda: step_decay(0, base_lr=0.1, step_size=0), r"The 'step_size' parameter of step_decay "
                                                      r"must be an int in the range \[1, inf\)\. "
                                                      r"Got 0 instead\."),
    (lambda: step_decay(0, base_lr=0.1, step_size=2, gamma=0.0),
     r"The 'gamma' parameter of step_decay must be a float in the range \(0, 1\]\. Got 0\.0"),
    (lambda: step_decay(-1, base_lr=0.1, step_size=2),
     r"The 'step' parameter of step_decay must be an int"),
    (lambda: step_decay(1.5, base_lr=0.1, step_size=2), r"'step' .*step_decay .* Got 1\.5"),
    (lambda: exponential(0, base_lr=0.1, gamma=1.5), r"'gamma' .*exponential .* Got 1\.5"),
    (lambda: exponential(0, base_lr=-1.0, gamma=0.5), r"'base_lr' .*exponential .* \(0, inf\)"),
    (lambda: constant(0, base_lr=0), r"The 'base_lr' parameter of constant"),
    (lambda: cosine_with_warmup(0, base_lr=0.1, warmup=10, total=5),
     r"The 'total' parameter of cosine_with_warmup must be an int in the range \[10, inf\)\. "
     r"Got 5 instead\."),
    (lambda: cosine_with_warmup(0, base_lr=0.1, warmup=-1, total=5), r"'warmup' .* Got -1"),
    (lambda: cosine_with_warmup(0, base_lr=0.1, warmup=1, total=5, min_lr=0.2),
     r"The 'min_lr' parameter of cosine_with_warmup must be a float in the range \[0, 0\.1\]\. "
     r"Got 0\.2 instead\."),
    (lambda: ReduceLROnPlateau(mode="avg"),
     r"The 'mode' parameter of ReduceLROnPlateau must be a str among \{'max', 'min'\}\. "
     r"Got 'avg' instead\."),
    (lambda: ReduceLROnPlateau(threshold_mode="pct"),
     r"'threshold_mode' .* among \{'abs', 'rel'\}"),
    (lambda: ReduceLROnPlateau(factor=1.0), r"'factor' parameter of ReduceLROnPlateau .*\[0, 1\)"),
    (lambda: ReduceLROnPlateau(patience=-1), r"'patience' parameter of ReduceLROnPlateau .*Got -1"),
    (lambda: ReduceLROnPlateau(min_lr=-1.0), r"The 'min_lr' parameter of ReduceLROnPlateau"),
    (lambda: ReduceLROnPlateau(threshold=math.inf), r"'threshold' .* Got inf instead"),
    (lambda: step_decay(0, base_lr=math.inf, step_size=1), r"'base_lr' .* Got inf instead"),
]  # fmt: skip


@pytest.mark.parametrize("call, match", BAD_CALLS)
def test_bad_schedule_arguments_raise_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()
