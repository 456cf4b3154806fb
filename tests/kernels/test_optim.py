"""The compiled optimizer updates (``theta.kernels._optim``) against the NumPy path, bit for
bit: Adam, AdamW and AMSGrad, SGD with momentum, dampening, Nesterov, weight decay and
maximize, in float32 and float64, on parameters small enough for one thread and large enough
for several; NaN and division by zero as NumPy gives them; the arrays the kernels do not take
(other dtypes, non-contiguous) left to NumPy; and the state dict unchanged."""

import numpy as np
import pytest

import theta.kernels
from theta import Tensor
from theta.optim import SGD, Adam, AdamW

_optim = pytest.importorskip("theta.kernels._optim")  # skipped without Numba

CONFIGS = [
    (Adam, dict(lr=0.05)),
    (Adam, dict(lr=0.05, weight_decay=0.1)),
    (Adam, dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3, amsgrad=True)),
    (AdamW, dict(lr=0.05)),
    (AdamW, dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, weight_decay=0.05)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.01, maximize=True)),
    (SGD, dict(lr=0.1, maximize=True)),
]
IDS = ["adam", "adam_wd", "amsgrad", "adamw_nowd", "adamw_amsgrad", "sgd", "sgd_wd",
       "momentum", "nesterov_wd", "dampening", "maximize", "maximize_plain"]  # fmt: skip
# a matrix past PARALLEL_MIN (several threads, a partial last block), small ones, a scalar
# and an empty one, all in one block of flat moments
SHAPES = [(3, 5), (401, 353), (7,), (), (0, 4), (40, 33)]


def _run(backend, cls, kwargs, inits, grads, state=None, **options):
    params = [Tensor(a.copy(), requires_grad=True) for a in inits]
    opt = cls(params, **kwargs, **options)
    if state is not None:
        opt.load_state_dict(state)
    with theta.kernels.use_backend(backend):
        for step_grads in grads:
            for p, g in zip(params, step_grads, strict=True):
                p.grad = g
            opt.step()
    return [p.data for p in params], opt


def _problem(rng, dtype, shapes=SHAPES, n_steps=4, grad_dtype=None):
    inits = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(grad_dtype or dtype) for s in shapes]
             for _ in range(n_steps)]  # fmt: skip
    return inits, grads


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def _count_calls(monkeypatch) -> dict[str, int]:
    calls = {"adam": 0, "sgd": 0}

    def spy_on(name):
        kernel = getattr(_optim, name)

        def spy(*args):
            calls[name] += 1
            return kernel(*args)

        monkeypatch.setattr(_optim, name, spy)

    for name in calls:
        spy_on(name)
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_compiled_update_equals_the_numpy_path_bit_for_bit(cls, kwargs, dtype, rng,
                                                           monkeypatch):  # fmt: skip
    assert max(int(np.prod(s)) for s in SHAPES) >= _optim.PARALLEL_MIN
    inits, grads = _problem(rng, dtype)
    calls = _count_calls(monkeypatch)
    ours, opt = _run("numba", cls, kwargs, inits, grads)
    # plain SGD stays on NumPy (one pass already); everything else runs the kernels
    plain = cls is SGD and not kwargs.get("momentum") and not kwargs.get("weight_decay")
    assert sum(calls.values()) == 0 if plain else sum(calls.values()) > 0
    theirs, ref = _run("numpy", cls, kwargs, inits, grads)
    _assert_same(ours, theirs)
    assert not np.array_equal(ours[1], inits[1]), "the parameters should have moved"
    mine, other = opt.state_dict(), ref.state_dict()
    assert mine.keys() == other.keys() and mine["state"].keys() == other["state"].keys()
    for k, state in mine["state"].items():
        assert state.keys() == other["state"][k].keys()
        for key, value in state.items():
            np.testing.assert_array_equal(value, other["state"][k][key], err_msg=key)


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_missing_gradients_and_a_resume_from_a_state_dict_keep_to_the_numpy_path(cls, kwargs,
                                                                                  rng):  # fmt: skip
    # a missing gradient gives parameters different step counts (Adam's runs); a state dict
    # saved on one backend resumes on the other
    inits, grads = _problem(rng, np.float32, n_steps=6)
    grads[2][0] = grads[2][2] = None
    results = []
    for first, second in [("numba", "numpy"), ("numpy", "numba"), ("numpy", "numpy")]:
        data, opt = _run(first, cls, kwargs, inits, grads[:3])
        data, _ = _run(second, cls, kwargs, data, grads[3:], state=opt.state_dict())
        results.append(data)
    _assert_same(results[0], results[2])
    _assert_same(results[1], results[2])


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_nan_and_zero_denominators_come_out_as_in_numpy(cls, kwargs, rng):
    # with the guard off a NaN gradient reaches the update; a zero gradient with eps=0 makes
    # Adam divide 0 by 0, which must give NaN (Numba's default would raise ZeroDivisionError)
    inits, grads = _problem(rng, np.float32, shapes=[(401, 353), (9,)], n_steps=3)
    grads[1][0][0, :3] = [np.nan, np.inf, -np.inf]
    grads[1][1][:] = 0.0
    extra = {"eps": 0.0} if cls is not SGD else {}
    with np.errstate(all="ignore"):
        ours, _ = _run("numba", cls, {**kwargs, **extra}, inits, grads, skip_nonfinite=False)
        theirs, _ = _run("numpy", cls, {**kwargs, **extra}, inits, grads, skip_nonfinite=False)
    _assert_same(ours, theirs)
    assert np.isnan(ours[0]).any()


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_a_nonfinite_gradient_leaves_every_parameter_unchanged(cls, kwargs, rng):
    inits, grads = _problem(rng, np.float32, n_steps=2)
    grads[1][4] = np.full((0, 4), np.nan, np.float32)  # empty: finite
    grads[1][5][3, 2] = np.nan
    after_one, _ = _run("numba", cls, kwargs, inits, grads[:1])
    ours, opt = _run("numba", cls, kwargs, inits, grads)
    _assert_same(ours, after_one)
    assert opt.skipped_steps == 1 and opt.step_count == 1


@pytest.mark.parametrize("case", ["longdouble", "wide_gradient", "transposed", "transposed_grad"])
@pytest.mark.parametrize("cls, kwargs", [CONFIGS[1], CONFIGS[4], CONFIGS[8]],
                         ids=["adam_wd", "adamw_amsgrad", "nesterov_wd"])  # fmt: skip
def test_arrays_the_kernels_do_not_take_keep_to_the_numpy_path(cls, kwargs, case, rng):
    dtype = np.longdouble if case == "longdouble" else np.float32
    grad_dtype = np.float64 if case == "wide_gradient" else None
    inits, grads = _problem(rng, dtype, shapes=[(30, 20), (300, 250)], grad_dtype=grad_dtype)
    if case == "transposed":
        inits[0] = np.asfortranarray(inits[0])
        grads = [[np.asfortranarray(g[0]), g[1]] for g in grads]
    if case == "transposed_grad":
        grads = [[np.asfortranarray(g[0]), g[1]] for g in grads]
    ours, _ = _run("numba", cls, kwargs, inits, grads)
    theirs, _ = _run("numpy", cls, kwargs, inits, grads)
    _assert_same(ours, theirs)

