"""Optimizers: trajectories equal to PyTorch's, parameter groups, exact resume from a state
dict, in-place updates that allocate nothing, hyperparameter checks and the non-finite guard.
"""

import copy
import json
import math
import tracemalloc

import numpy as np
import pytest

import theta
from theta import Tensor
from theta.errors import InvalidParameterError
from theta.optim import SGD, Adam, AdamW, Optimizer, RMSprop, weight_decay_groups

torch = pytest.importorskip("torch")

# id, theta class, torch class name, hyperparameters (the same keywords in both libraries)
CONFIGS = [
    ("sgd", SGD, "SGD", dict(lr=0.1)),
    ("sgd_momentum", SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov", SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", SGD, "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("sgd_dampening", SGD, "SGD", dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov_wd", SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("sgd_maximize", SGD, "SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.01, maximize=True)),
    ("adam", Adam, "Adam", dict(lr=0.05)),
    ("adam_weight_decay", Adam, "Adam", dict(lr=0.05, weight_decay=0.1)),
    ("adam_betas_eps", Adam, "Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    ("amsgrad", Adam, "Adam", dict(lr=0.05, amsgrad=True, betas=(0.8, 0.99))),
    ("adamw", AdamW, "AdamW", dict(lr=0.05)),
    ("adamw_amsgrad", AdamW, "AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("rmsprop", RMSprop, "RMSprop", dict(lr=0.01)),
    ("rmsprop_momentum", RMSprop, "RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("rmsprop_centered", RMSprop, "RMSprop", dict(lr=0.01, centered=True)),
    ("rmsprop_centered_mom", RMSprop, "RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]
IDS = [c[0] for c in CONFIGS]


class Quadratic:
    """f(W, b) = 1/2 tr((W - c) A (W - c)^T) + 1/2 (b - c) A (b - c): fixed, well conditioned.

    Gradients depend on the parameters, so any difference in a step shows up in every later
    one. With ``maximize`` the gradient of -f is returned, so ascent converges too.
    """

    def __init__(self, maximize: bool = False, n: int = 5, seed: int = 0):
        rng = np.random.default_rng(seed)
        M = rng.standard_normal((n, n))
        self.A = M @ M.T / n + 0.1 * np.eye(n)
        self.c = rng.standard_normal(n)
        self.sign = -1.0 if maximize else 1.0
        self.W0 = rng.standard_normal((3, n))
        self.b0 = rng.standard_normal(n)

    def grads(self, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.sign * (W - self.c) @ self.A, self.sign * self.A @ (b - self.c)


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def run_theta(opt: Optimizer, W: Tensor, b: Tensor, problem: Quadratic, n_steps: int):
    path = []
    for _ in range(n_steps):
        W.grad, b.grad = problem.grads(W.data, b.data)
        assert opt.step() is None and opt.skipped_steps == 0
        path.append((W.data.copy(), b.data.copy()))
    return path


def run_torch(name: str, kwargs: dict, problem: Quadratic, n_steps: int, groups=None):
    W = torch.tensor(problem.W0, requires_grad=True)
    b = torch.tensor(problem.b0, requires_grad=True)
    params = [W, b] if groups is None else [{"params": [W], **groups[0]}, {"params": [b]}]
    opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
    path = []
    for _ in range(n_steps):
        gW, gb = problem.grads(W.detach().numpy(), b.detach().numpy())
        W.grad, b.grad = torch.from_numpy(gW), torch.from_numpy(gb)
        opt.step()
        path.append((W.detach().numpy().copy(), b.detach().numpy().copy()))
    return path


def assert_paths_close(ours, theirs, rtol=1e-12, atol=1e-12):
    assert len(ours) == len(theirs)
    for step, ((W, b), (tW, tb)) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(W, tW, rtol=rtol, atol=atol, err_msg=f"W at step {step}")
        np.testing.assert_allclose(b, tb, rtol=rtol, atol=atol, err_msg=f"b at step {step}")


# --- the same trajectory as PyTorch ---------------------------------------------------------


@pytest.mark.parametrize("name, cls, torch_name, kwargs", CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, cls, torch_name, kwargs, kernel_backend):
    problem = Quadratic(maximize=kwargs.get("maximize", False))
    W, b = leaf(problem.W0), leaf(problem.b0)
    ours = run_theta(cls([W, b], **kwargs), W, b, problem, 50)
    theirs = run_torch(torch_name, kwargs, problem, 50)
    assert_paths_close(ours, theirs)
    assert not np.allclose(ours[-1][0], problem.W0), "the parameters should have moved"


@pytest.mark.parametrize(
    "cls, torch_name, kwargs",
    [
        (SGD, "SGD", dict(lr=0.01, momentum=0.9)),
        (Adam, "Adam", dict(lr=0.01)),
        (AdamW, "AdamW", dict(lr=0.01, weight_decay=0.1)),
        (RMSprop, "RMSprop", dict(lr=0.001, centered=True)),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_param_groups_with_different_lr_match_torch(cls, torch_name, kwargs, kernel_backend):
    problem = Quadratic()
    W, b = leaf(problem.W0), leaf(problem.b0)
    opt = cls([{"params": [W], "lr": 0.1}, {"params": [b]}], **kwargs)
    assert [g["lr"] for g in opt.param_groups] == [0.1, kwargs["lr"]]
    ours = run_theta(opt, W, b, problem, 50)
    theirs = run_torch(torch_name, kwargs, problem, 50, groups=[{"lr": 0.1}])
    assert_paths_close(ours, theirs)


@pytest.mark.parametrize("cls, torch_name", [(SGD, "SGD"), (Adam, "Adam"), (AdamW, "AdamW"),
                                             (RMSprop, "RMSprop")])  # fmt: skip
def test_float32_stays_float32_and_matches_torch(cls, torch_name, kernel_backend):
    problem = Quadratic()
    W, b = leaf(problem.W0, np.float32), leaf(problem.b0, np.float32)
    if issubclass(cls, Adam):
        kwargs = dict(lr=0.01, weight_decay=0.1)
    else:
        kwargs = dict(lr=0.01, momentum=0.9)
    opt = cls([W, b], **kwargs)
    tW = torch.tensor(problem.W0, dtype=torch.float32, requires_grad=True)
    tb = torch.tensor(problem.b0, dtype=torch.float32, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tW, tb], foreach=False, **kwargs)
    A = problem.A.astype(np.float32)
    c = problem.c.astype(np.float32)
    for _ in range(30):
        W.grad, b.grad = (W.data - c) @ A, A @ (b.data - c)
        opt.step()
        gW, gb = (tW.detach().numpy() - c) @ A, A @ (tb.detach().numpy() - c)
        tW.grad, tb.grad = torch.from_numpy(gW), torch.from_numpy(gb)
        topt.step()
    assert W.data.dtype == np.float32 and b.data.dtype == np.float32
    for state in opt.state.values():
        for key, value in state.items():
            assert key == "step" or value.dtype == np.float32, key
    np.testing.assert_allclose(W.data, tW.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scalar_hyperparameters_are_python_floats():
    opt = Adam([leaf([1.0])], lr=np.float64(0.1), betas=[np.float32(0.5), 0.9], eps=0)
    group = opt.param_groups[0]
    assert type(group["lr"]) is float and type(group["eps"]) is float
    assert group["betas"] == (0.5, 0.9) and all(type(b) is float for b in group["betas"])


def test_training_through_autograd_fits_the_chapter_line():
    # The chapter's example: pred = w*x + b fitted to y = 2x + 1 with plain gradient descent
    x = np.arange(5.0)
    y = 2 * x + 1
    w, b = leaf(0.0), leaf(0.0)
    opt = SGD([w, b], lr=0.05)
    for step in range(1000):
        pred = w * x + b  # 1. forward
        loss = ((pred - y) ** 2).mean()  # 2. loss
        opt.zero_grad()
        loss.backward()  # 3. gradient
        opt.step()  # 4. update
        if step == 0:
            assert (round(float(w.data), 4), round(float(b.data), 4)) == (1.4, 0.5)
    assert abs(float(w.data) - 2.0) < 1e-4 and abs(float(b.data) - 1.0) < 1e-4
    assert opt.step_count == 1000


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    w, v = leaf([1.0, 2.0]), leaf([3.0])
    opt = Adam([w, v], lr=0.1)
    w.grad = np.ones(2)
    opt.step()
    assert v not in opt.state and np.array_equal(v.data, [3.0])
    assert opt.state[w]["step"] == 1
    opt.zero_grad()
    assert w.grad is None and v.grad is None


# --- state dict: exact resume ----------------------------------------------------------------


def _resume_run(cls, kwargs, problem, save_at, through_json=False):
    """Run save_at steps, save, rebuild everything from the saved state, run save_at more."""
    W, b = leaf(problem.W0), leaf(problem.b0)
    opt = cls([{"params": [W]}, {"params": [b], "lr": kwargs["lr"] / 2}], **kwargs)
    run_theta(opt, W, b, problem, save_at)
    saved = opt.state_dict()
    params = (W.data.copy(), b.data.copy())
    if through_json:
        saved = json_round_trip(saved)
    W2, b2 = leaf(params[0]), leaf(params[1])
    opt2 = cls([{"params": [W2]}, {"params": [b2], "lr": kwargs["lr"] / 2}], **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.step_count == save_at
    return run_theta(opt2, W2, b2, problem, save_at)


def json_round_trip(state_dict):
    """Arrays aside (as safetensors would hold them), everything else through JSON."""
    arrays = {}

    def strip(obj, path):
        if isinstance(obj, np.ndarray):
            arrays[path] = obj
            return {"__array__": path}
        if isinstance(obj, dict):
            return {str(k): strip(v, f"{path}.{k}") for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [strip(v, f"{path}.{i}") for i, v in enumerate(obj)]
        assert type(obj) in (int, float, bool, str, type(None)), (path, type(obj))
        return obj

    def restore(obj):
        if isinstance(obj, dict):
            if set(obj) == {"__array__"}:
                return arrays[obj["__array__"]]
            return {k: restore(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [restore(v) for v in obj]
        return obj

    return restore(json.loads(json.dumps(strip(state_dict, ""))))


@pytest.mark.parametrize("name, cls, torch_name, kwargs", CONFIGS, ids=IDS)
def test_state_dict_resume_is_bit_for_bit(name, cls, torch_name, kwargs):
    problem = Quadratic(maximize=kwargs.get("maximize", False))
    W, b = leaf(problem.W0), leaf(problem.b0)
    opt = cls([{"params": [W]}, {"params": [b], "lr": kwargs["lr"] / 2}], **kwargs)
    uninterrupted = run_theta(opt, W, b, problem, 20)[10:]
    resumed = _resume_run(cls, kwargs, problem, save_at=10)
    for (W1, b1), (W2, b2) in zip(uninterrupted, resumed, strict=True):
        assert np.array_equal(W1, W2) and np.array_equal(b1, b2)


@pytest.mark.parametrize("cls, kwargs", [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(lr=0.05))])
def test_state_dict_survives_json_and_is_plain(cls, kwargs):
    problem = Quadratic()
    W, b = leaf(problem.W0), leaf(problem.b0)
    opt = cls([{"params": [W]}, {"params": [b], "lr": kwargs["lr"] / 2}], **kwargs)
    uninterrupted = run_theta(opt, W, b, problem, 20)[10:]
    resumed = _resume_run(cls, kwargs, problem, save_at=10, through_json=True)
    for (W1, _), (W2, _) in zip(uninterrupted, resumed, strict=True):
        assert np.array_equal(W1, W2)


def test_state_dict_is_a_copy():
    w = leaf([1.0, 2.0])
    opt = Adam([w], lr=0.1)
    w.grad = np.ones(2)
    opt.step()
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    opt.step()
    assert np.array_equal(saved["state"][0]["exp_avg"], before)
    assert saved["state"][0]["step"] == 1 and saved["step_count"] == 1
    assert saved["param_groups"][0] == {
        "lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
        "params": [0],
    }  # fmt: skip


def test_load_state_dict_takes_hyperparameters_and_copies_arrays():
    w = leaf([1.0])
    opt = SGD([w], lr=0.1, momentum=0.9)
    w.grad = np.ones(1)
    opt.step()
    saved = opt.state_dict()
    w2 = leaf([1.0])
    opt2 = SGD([w2], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0]["momentum"] == 0.9
    assert opt2.state[w2]["momentum_buffer"] is not saved["state"][0]["momentum_buffer"]


def _two_param_adam():
    w, v = leaf([1.0, 2.0]), leaf([3.0])
    opt = Adam([w, v], lr=0.1)
    w.grad, v.grad = np.ones(2), np.ones(1)
    opt.step()
    return opt


@pytest.mark.parametrize(
    "make_target, match",
    [
        (lambda: Adam([{"params": [leaf([1.0, 2.0])]}, {"params": [leaf([3.0])]}]),
         r"has 1 parameter group\(s\) but this optimizer has 2"),
        (lambda: Adam([leaf([1.0, 2.0])]), r"group 0 has 2 parameter\(s\) .* but 1"),
        (lambda: Adam([leaf([1.0, 2.0]), leaf([3.0, 4.0])]), r"shape \(1,\) .* shape \(2,\)"),
        (lambda: SGD([leaf([1.0, 2.0]), leaf([3.0])], momentum=0.9),
         r"hyperparameters .*amsgrad.* different optimizer"),
    ],
    ids=["n_groups", "n_params", "shape", "optimizer_type"],
)  # fmt: skip
def test_load_state_dict_refuses_a_mismatch(make_target, match):
    saved = _two_param_adam().state_dict()
    target = make_target()
    before = (target.param_groups[0]["lr"], dict(target.state), target.step_count)
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(saved)
    assert (target.param_groups[0]["lr"], dict(target.state), target.step_count) == before


def test_load_state_dict_refuses_unknown_state_entries():
    w = leaf([1.0])
    opt = SGD([w], lr=0.1, momentum=0.9)
    w.grad = np.ones(1)
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["exp_avg"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"entries \['exp_avg'\] that SGD does not use"):
        SGD([leaf([1.0])], lr=0.1, momentum=0.9).load_state_dict(saved)


# --- in place, and no allocation after the first step ---------------------------------------


def _all_arrays(opt):
    arrays = [v for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray)]
    return arrays + [b for bufs in opt._buffers.values() for b in bufs]


@pytest.mark.parametrize("name, cls, torch_name, kwargs", CONFIGS, ids=IDS)
def test_update_is_in_place_and_allocates_nothing(name, cls, torch_name, kwargs, rng,
                                                  kernel_backend):
    W = leaf(rng.standard_normal((100, 200)))
    b = leaf(rng.standard_normal(200))
    grads = [(rng.standard_normal((100, 200)), rng.standard_normal(200)) for _ in range(4)]
    opt = cls([W, b], **kwargs)
    W.grad, b.grad = grads[0]
    opt.step()
    data_ids = [(id(p.data), p.data.ctypes.data) for p in (W, b)]
    state_ids = [id(a) for a in _all_arrays(opt)]
    W.grad, b.grad = grads[1]
    opt.step()  # the first step of a lazily made buffer may allocate; measure after it
    tracemalloc.start()
    try:
        for gW, gb in grads[2:]:
            W.grad, b.grad = gW, gb
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < W.data.nbytes / 20, f"a step allocated {peak} bytes"
    assert [(id(p.data), p.data.ctypes.data) for p in (W, b)] == data_ids
    assert [id(a) for a in _all_arrays(opt)] == state_ids
    assert opt.step_count == 4


def test_the_gradient_is_never_written(rng, kernel_backend):
    for _, cls, _, kwargs in CONFIGS:
        w = leaf(rng.standard_normal(10))
        g = rng.standard_normal(10)
        g.flags.writeable = False  # a write would raise
        opt = cls([w], **kwargs)
        for _ in range(3):
            w.grad = g
            opt.step()


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop])
def test_state_keeps_the_param_dtype_when_the_gradient_is_wider(cls):
    w = leaf([1.0, 2.0], dtype=np.float32)
    opt = cls([w], lr=0.1, momentum=0.9) if cls is not Adam else cls([w], lr=0.1)
    for _ in range(2):
        w.grad = np.array([0.5, -0.5])  # float64
        opt.step()
    assert w.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[w].values() if isinstance(v, np.ndarray))


def test_a_gradient_of_the_wrong_shape_is_refused():
    w = leaf([1.0, 2.0, 3.0])
    opt = SGD([w], lr=0.1)
    w.grad = np.ones(1)  # would broadcast silently
    with pytest.raises(ValueError, match=r"SGD.step: a gradient has shape \(1,\) but its "
                                         r"parameter has shape \(3,\)"):  # fmt: skip
        opt.step()


def test_scratch_buffers_are_shared_between_same_shaped_params():
    ws = [leaf(np.ones(50)) for _ in range(4)]
    opt = RMSprop(ws, lr=0.1)
    for w in ws:
        w.grad = np.ones(50)
    opt.step()
    assert len(opt._buffers) == 1 and len(opt._buffers[((50,), np.dtype(np.float64))]) == 2


def adam_reference(p, g, state, group, decoupled):
    """PyTorch's single-tensor Adam step on one array, unfused, in its operation order.

    PyTorch's CPU kernels fuse ``lerp_``, ``addcmul_`` and ``addcdiv_`` into multiply-adds,
    which NumPy cannot; theta's update is this formula exactly, and PyTorch's to a few ulp.
    """
    lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
    state["step"] += 1
    step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
    if wd != 0 and decoupled:
        p *= 1.0 - lr * wd
    d = p * wd + g if wd != 0 and not decoupled else g.astype(p.dtype)
    m += (d - m) * (1.0 - beta1)
    v *= beta2
    v += d * (1.0 - beta2) * d
    if group["amsgrad"]:
        v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
    denom = np.sqrt(v) / math.sqrt(1.0 - beta2**step) + eps
    p -= m / denom * (lr / (1.0 - beta1**step))


@pytest.mark.parametrize("chunk_bytes", [64, 256 * 1024], ids=["split", "one_chunk"])
@pytest.mark.parametrize("cls, kwargs", [(Adam, dict(lr=0.05, weight_decay=0.1)),
                                         (AdamW, dict(lr=0.05, weight_decay=0.1)),
                                         (Adam, dict(lr=0.05, amsgrad=True))])  # fmt: skip
def test_adam_chunked_update_equals_the_formula_bit_for_bit(cls, kwargs, chunk_bytes, rng,
                                                            monkeypatch):  # fmt: skip
    # chunks of 8 float64 (or 16 float32) elements split the (3, 4) and (4, 5) parameters and
    # join small ones; a missing gradient makes runs of different step counts; two dtypes
    # make two blocks; a transposed parameter cannot be split
    from theta.optim import adam

    monkeypatch.setattr(adam, "CHUNK_BYTES", chunk_bytes)
    shapes = [(3, 4), (4,), (4, 5), (2,), (5, 3)]
    dtypes = [np.float64, np.float64, np.float32, np.float64, np.float64]
    inits = [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes, strict=True)]
    inits[4] = np.asfortranarray(inits[4])
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    ps = [leaf(a, a.dtype) for a in inits]
    ps[4].data = inits[4].copy(order="F")
    assert not ps[4].data.flags.c_contiguous
    data_ids = [id(p.data) for p in ps]
    opt = cls([{"params": ps[:4]}, {"params": ps[4:], "weight_decay": 0.0}], **kwargs)
    ref = [a.copy() for a in inits]
    ref_state = [{"step": 0, "exp_avg": np.zeros_like(a), "exp_avg_sq": np.zeros_like(a),
                  "max_exp_avg_sq": np.zeros_like(a)} for a in inits]  # fmt: skip
    for i, step_grads in enumerate(grads):
        for j, (p, g) in enumerate(zip(ps, step_grads, strict=True)):
            p.grad = None if (i == 2 and j in (1, 3)) else g.astype(p.data.dtype)
            if p.grad is not None:
                group = opt.param_groups[0 if j < 4 else 1]
                adam_reference(ref[j], p.grad, ref_state[j], group, cls is AdamW)
        opt.step()
    assert [id(p.data) for p in ps] == data_ids
    for p, a, s in zip(ps, ref, ref_state, strict=True):
        assert np.array_equal(p.data, a) and p.data.dtype == a.dtype
        saved = opt.state[p]
        assert saved["step"] == s["step"]
        keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if kwargs.get("amsgrad") else ())
        assert set(saved) == {"step", *keys}
        assert all(np.array_equal(saved[k], s[k]) for k in keys)
    assert opt.state[ps[1]]["step"] == 5 and opt.state[ps[0]]["step"] == 6


def test_adam_scratch_is_one_chunk_not_a_group(rng):
    """Two chunk-sized scratch arrays serve every group, whatever the parameters' size."""
    from theta.optim import adam

    ps = [leaf(rng.standard_normal((600, 500))), leaf(rng.standard_normal(500))]
    opt = Adam([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.1)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    scratch = sum(b.nbytes for bufs in opt._buffers.values() for b in bufs)
    assert scratch <= 2 * adam.CHUNK_BYTES + 2 * ps[1].data.nbytes


def test_adam_reloads_state_replaced_from_outside():
    w = leaf([1.0, 2.0])
    opt = Adam([w], lr=0.1)
    w.grad = np.ones(2)
    opt.step()
    saved = opt.state_dict()
    opt.step()
    opt.load_state_dict(saved)  # new state arrays: the next step must use them
    opt.step()
    w2 = leaf([1.0, 2.0])
    opt2 = Adam([w2], lr=0.1)
    w2.grad = np.ones(2)
    opt2.step()
    w2.data[...] = w.data  # the parameters differ only by the extra step, the state not at all
    opt2.step()
    assert np.array_equal(opt.state[w]["exp_avg"], opt2.state[w2]["exp_avg"])
    assert opt.state[w]["step"] == opt2.state[w2]["step"] == 2


def test_adam_takes_a_parameter_appended_to_its_group_list():
    w, b = leaf([1.0, 2.0]), leaf([3.0])
    opt = Adam([w], lr=0.1)
    w.grad = np.ones(2)
    opt.step()
    opt.param_groups[0]["params"].append(b)
    w.grad, b.grad = np.ones(2), np.ones(1)
    opt.step()  # steps differ (2 and 1): parameter by parameter
    assert opt.state[w]["step"] == 2 and opt.state[b]["step"] == 1
    np.testing.assert_allclose(b.data, [2.9])  # a first Adam step moves by lr


def test_plain_sgd_keeps_one_scratch_array_per_shape(kernel_backend):
    """``p -= lr * g`` needs one temporary: the optimizer's memory stays at one copy (plain
    SGD is one pass in NumPy, so the compiled kernels leave it to NumPy)."""
    w = leaf(np.ones(5000))
    opt = SGD([w], lr=0.1)
    w.grad = np.ones(5000)
    opt.step()
    assert [len(b) for b in opt._buffers.values()] == [1]


# --- non-finite gradients --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop])
def test_nonfinite_gradient_skips_the_whole_step(cls, bad, kernel_backend):
    w, v = leaf([1.0, 2.0]), leaf([3.0])
    opt = cls([w, v], lr=0.1)
    w.grad, v.grad = np.ones(2), np.array([bad])
    assert opt.step() is None
    assert np.array_equal(w.data, [1.0, 2.0]) and np.array_equal(v.data, [3.0])
    assert opt.skipped_steps == 1 and opt.step_count == 0 and opt.state == {}
    v.grad = np.ones(1)
    opt.step()
    assert opt.skipped_steps == 1 and opt.step_count == 1 and opt.state[w]["step"] == 1
    assert opt.state_dict()["skipped_steps"] == 1


def test_nonfinite_check_can_be_turned_off():
    w = leaf([1.0, 2.0])
    opt = SGD([w], lr=0.1, skip_nonfinite=False)
    w.grad = np.array([np.nan, 1.0])
    opt.step()
    assert math.isnan(w.data[0]) and w.data[1] == pytest.approx(1.9)
    assert opt.skipped_steps == 0


def test_finite_gradient_whose_check_overflows_is_not_skipped():
    w = leaf([0.0, 0.0, 0.0], dtype=np.float32)
    opt = SGD([w], lr=1e-38)
    w.grad = np.array([3e38, 3e38, -1.0], dtype=np.float32)  # squares and sum overflow
    opt.step()
    assert opt.skipped_steps == 0 and np.all(np.isfinite(w.data)) and w.data[0] < 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_in_a_non_contiguous_gradient_is_caught(bad):
    w = leaf(np.ones((3, 2)))
    opt = Adam([w], lr=0.1)
    full = np.ones((3, 4))
    full[1, 2] = bad
    w.grad = full[:, ::2]  # a strided view
    assert not w.grad.flags.c_contiguous
    opt.step()
    assert opt.skipped_steps == 1 and opt.step_count == 0
    w.grad = full[:, 1::2]  # finite, strided
    opt.step()
    assert opt.skipped_steps == 1 and opt.step_count == 1
    w.grad = np.ones((2, 3)).T  # Fortran-ordered
    opt.step()
    assert opt.skipped_steps == 1 and opt.step_count == 2


# --- bad hyperparameters and parameters -------------------------------------------------------

BAD_HYPERPARAMETERS = [
    (SGD, dict(lr=-0.1), r"The 'lr' parameter of SGD must be a float in the range \(0, inf\)\. "
                         r"Got -0\.1 instead\."),
    (SGD, dict(lr=0), r"The 'lr' parameter of SGD must be a float in the range \(0, inf\)\. "
                      r"Got 0 instead"),
    (SGD, dict(lr=math.nan), r"'lr' parameter of SGD .* Got nan instead"),
    (SGD, dict(lr=math.inf), r"'lr' parameter of SGD .* Got inf instead"),
    (SGD, dict(momentum=-0.5), r"'momentum' parameter of SGD must be a float in the range "
                               r"\[0, inf\)"),
    (SGD, dict(dampening=1.5), r"'dampening' parameter of SGD must be a float in the range "
                               r"\[0, 1\]"),
    (SGD, dict(weight_decay=-1e-4), r"'weight_decay' parameter of SGD .* \[0, inf\)\. "
                                    r"Got -0\.0001 instead"),
    (SGD, dict(nesterov=True), r"SGD: nesterov=True requires momentum > 0 .*momentum=0\.0"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), r"dampening == 0"),
    (Adam, dict(betas=(0.9, 1.0)), r"The 'betas' parameter of Adam must be a tuple of floats in "
                                   r"the range \[0, 1\)\. Got \(0\.9, 1\.0\) instead\."),
    (Adam, dict(betas=(-0.1, 0.9)), r"'betas' parameter of Adam .* Got \(-0\.1, 0\.9\) instead"),
    (Adam, dict(betas=0.9), r"The 'betas' parameter of Adam must be a tuple"),
    (Adam, dict(betas=(0.9, 0.99, 0.999)), r"The 'betas' parameter of Adam must be a tuple of 2 "
                                           r"floats in the range \[0, 1\)\. Got \(0\.9, "),
    (Adam, dict(eps=-1e-8), r"'eps' parameter of Adam must be a float in the range \[0, inf\)"),
    (AdamW, dict(weight_decay=-0.01), r"'weight_decay' parameter of AdamW"),
    (Adam, dict(amsgrad="yes"), r"The 'amsgrad' parameter of Adam must be an instance of 'bool'\. "
                                r"Got 'yes' instead\."),
    (RMSprop, dict(alpha=1.0), r"The 'alpha' parameter of RMSprop must be a float in the range "
                               r"\[0, 1\)\. Got 1"),
    (RMSprop, dict(momentum=-0.1), r"'momentum' parameter of RMSprop"),
    (RMSprop, dict(eps=-1.0), r"'eps' parameter of RMSprop"),
    (RMSprop, dict(eps=math.inf), r"'eps' parameter of RMSprop .* \[0, inf\)\. Got inf instead"),
    (SGD, dict(momentum=math.inf), r"'momentum' parameter of SGD .* Got inf instead"),
]  # fmt: skip


@pytest.mark.parametrize("cls, kwargs, match", BAD_HYPERPARAMETERS)
def test_bad_hyperparameter_raises_value_error_naming_it(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([leaf([1.0])], **kwargs)


@pytest.mark.parametrize("lr", ["0.1", None, True, [0.1]])
def test_lr_that_is_not_a_number_raises_type_error(lr):
    with pytest.raises(TypeError, match=r"'lr' parameter of SGD must be a float in the range"):
        SGD([leaf([1.0])], lr=lr)
    with pytest.raises(InvalidParameterError):
        Adam([leaf([1.0])], lr=lr)


def test_bad_hyperparameter_in_a_group_is_caught():
    with pytest.raises(
        ValueError,
        match=r"The 'lr' parameter of Adam's parameter group 1 must "
        r"be a float in the range \(0, inf\)\. Got -1 instead",
    ):
        Adam([{"params": [leaf([1.0])]}, {"params": [leaf([2.0])], "lr": -1}])
    with pytest.raises(ValueError, match=r"SGD's parameter group 1: nesterov=True requires"):
        SGD([{"params": [leaf([1.0])]}, {"params": [leaf([2.0])], "nesterov": True}])
    opt = SGD([leaf([1.0])])
    with pytest.raises(ValueError, match=r"'momentum' parameter of SGD's parameter group 1 "):
        opt.add_param_group({"params": [leaf([2.0])], "momentum": -0.9})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['momentun'\]"):
        SGD([{"params": [leaf([1.0])], "momentun": 0.9}])


def test_bad_hyperparameter_in_a_state_dict_is_refused_naming_the_group():
    saved = _two_param_adam().state_dict()
    saved["param_groups"][0]["betas"] = [0.9, 1.0]
    target = Adam([leaf([1.0, 2.0]), leaf([3.0])], lr=0.5)
    with pytest.raises(
        ValueError,
        match=r"The 'betas' parameter of Adam's parameter group 0 "
        r"must be a tuple of floats in the range \[0, 1\)",
    ):
        target.load_state_dict(saved)
    assert target.param_groups[0]["lr"] == 0.5 and target.state == {}


@pytest.mark.parametrize(
    "params, error, match",
    [
        ([], ValueError, r"SGD: got an empty parameter list"),
        ((p for p in []), ValueError, r"empty parameter list"),
        ([leaf([1.0]), np.ones(2)], TypeError, r"SGD: params\[1\] is a ndarray, not a Tensor"),
        ([leaf([1.0]), leaf([2.0]), Tensor([1.0])], ValueError,
         r"SGD: params\[2\] does not require grad"),
        ([Tensor(np.arange(3))], TypeError, r"params\[0\] has dtype int64; only floating"),
        ([{"params": [leaf([1.0])]}, {"params": [leaf([2.0]), 3.0]}], TypeError,
         r"params\[1\]\['params'\]\[1\] is a float"),
        ([{"lr": 0.1}], ValueError, r"needs a 'params' entry"),
        ([leaf([1.0]), {"params": [leaf([2.0])]}], TypeError, r"mixes Tensors and"),
        (leaf([1.0]), TypeError, r"not a single Tensor; pass \[tensor\]"),
        (5, TypeError, r"iterable of Tensors .* \(got int\)"),
    ],
    ids=["empty", "empty_generator", "ndarray", "no_grad", "int_dtype", "group_index",
         "group_without_params", "mixed", "single_tensor", "not_iterable"],
)  # fmt: skip
def test_bad_params_raise_naming_the_index(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_a_tensor_listed_twice_is_refused():
    w = leaf([1.0])
    with pytest.raises(ValueError, match=r"params\[1\] appears more than once"):
        SGD([w, w])
    opt = SGD([w])
    with pytest.raises(ValueError, match=r"param_group\['params'\]\[0\] appears more than once"):
        opt.add_param_group({"params": [w], "lr": 0.5})


def test_accepts_generators_single_group_dicts_and_module_style_params():
    ws = [leaf([1.0]), leaf([2.0])]
    assert len(SGD(p for p in ws).param_groups[0]["params"]) == 2
    opt = SGD({"params": ws, "lr": 0.5})
    assert opt.param_groups[0]["lr"] == 0.5
    group_of_one = SGD([{"params": ws[0]}])
    assert group_of_one.param_groups[0]["params"] == [ws[0]]


def test_weight_decay_groups_decays_matrices_only():
    W, b, E = leaf(np.ones((2, 2))), leaf(np.ones(2)), leaf(np.ones((3, 2)))
    groups = weight_decay_groups([("W", W), ("b", b), ("E", E)], weight_decay=0.1)
    assert groups[0]["params"] == [W, E] and groups[0]["weight_decay"] == 0.1
    assert groups[1]["params"] == [b] and groups[1]["weight_decay"] == 0.0
    assert weight_decay_groups([b], 0.1) == [{"params": [b], "weight_decay": 0.0}]
    with pytest.raises(ValueError, match="The 'weight_decay' parameter of weight_decay_groups"):
        weight_decay_groups([W], -1.0)


def test_base_class_needs_an_update_rule():
    opt = Optimizer([leaf([1.0])], {"lr": 0.1})
    opt.param_groups[0]["params"][0].grad = np.ones(1)
    with pytest.raises(NotImplementedError, match="_update"):
        opt.step()


def test_repr_names_the_hyperparameters():
    text = repr(SGD([leaf([1.0]), leaf([2.0])], lr=0.1, momentum=0.9))
    assert text.startswith("SGD(2 tensors; lr=0.1, momentum=0.9")


def test_works_with_the_top_level_tensor_factory():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    opt = AdamW([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.data.dtype == theta.get_default_dtype()


# --- step(closure) and PyTorch's state dicts -------------------------------------------------


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_step_calls_the_closure_once_with_grad_enabled_and_returns_its_loss(cls):
    problem = Quadratic()
    A = problem.A
    W, tW = leaf(problem.W0), torch.tensor(problem.W0, requires_grad=True)
    opt, topt = cls([W], lr=0.1), getattr(torch.optim, cls.__name__)([tW], lr=0.1)
    calls = {"theta": [], "torch": []}

    def closure():
        calls["theta"].append(theta.is_grad_enabled())
        opt.zero_grad()
        loss = ((W @ A) * W).sum()
        loss.backward()
        return loss

    def torch_closure():
        calls["torch"].append(torch.is_grad_enabled())
        topt.zero_grad()
        loss = ((tW @ torch.from_numpy(A)) * tW).sum()
        loss.backward()
        return loss

    for _ in range(3):
        with theta.no_grad(), torch.no_grad():
            loss, tloss = opt.step(closure), topt.step(torch_closure)
        assert isinstance(loss, Tensor) and float(loss.item()) == pytest.approx(tloss.item())
    assert calls["theta"] == calls["torch"] == [True] * 3
    np.testing.assert_allclose(W.data, tW.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_a_skipped_step_still_returns_the_closures_loss():
    w = leaf([1.0])
    opt = SGD([w], lr=0.1)

    def closure():
        w.grad = np.array([np.nan])
        return 7.0

    assert opt.step(closure) == 7.0 and opt.skipped_steps == 1 and w.data[0] == 1.0


TORCH_RESUMES = [
    (SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, "SGD", dict(lr=0.1)),
    (Adam, "Adam", dict(lr=0.05, weight_decay=0.1)),
    (Adam, "Adam", dict(lr=0.05, amsgrad=True)),
    (AdamW, "AdamW", dict(lr=0.05, weight_decay=0.1)),
    (RMSprop, "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
]
TORCH_RESUME_IDS = ["sgd_nesterov", "sgd", "adam", "amsgrad", "adamw", "rmsprop"]


def _torch_run(torch_name, kwargs, problem, W0, b0, n_steps, state=None):
    W, b = torch.tensor(W0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = getattr(torch.optim, torch_name)([{"params": [W]}, {"params": [b], "lr": 0.02}],
                                           **kwargs)  # fmt: skip
    if state is not None:
        opt.load_state_dict(copy.deepcopy(state))  # torch would update the tensors in place
    for _ in range(n_steps):
        W.grad, b.grad = map(torch.from_numpy, problem.grads(W.detach().numpy(),
                                                             b.detach().numpy()))  # fmt: skip
        opt.step()
    return W.detach().numpy(), b.detach().numpy(), copy.deepcopy(opt.state_dict())


def _theta_opt(cls, kwargs, W0, b0):
    W, b = leaf(W0), leaf(b0)
    return cls([{"params": [W]}, {"params": [b], "lr": 0.02}], **kwargs), W, b


@pytest.mark.parametrize("cls, torch_name, kwargs", TORCH_RESUMES, ids=TORCH_RESUME_IDS)
def test_theta_resumes_from_a_pytorch_optimizer_state_dict(cls, torch_name, kwargs):
    problem = Quadratic()
    W0, b0, torch_state = _torch_run(torch_name, kwargs, problem, problem.W0, problem.b0, 7)
    tW, tb, _ = _torch_run(torch_name, kwargs, problem, W0, b0, 8, state=torch_state)
    opt, W, b = _theta_opt(cls, {"lr": 0.5}, W0, b0)  # every hyperparameter comes from torch
    opt.load_state_dict(torch_state)
    assert opt.param_groups[1]["lr"] == 0.02 and opt.step_count == (7 if cls is not SGD else 0)
    run_theta(opt, W, b, problem, 8)
    np.testing.assert_allclose(W.data, tW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.data, tb, rtol=1e-12, atol=1e-12)
    assert not np.allclose(W.data, W0)


def theta_state_to_torch(state_dict):
    """theta's state dict has torch.optim's layout: arrays and steps become tensors, and the
    parameter numbers ints again after JSON (torch ignores state under any other key)."""
    state = {
        int(k): {n: torch.tensor(float(v)) if n == "step" else torch.from_numpy(v)
                 for n, v in s.items()}
        for k, s in state_dict["state"].items()
    }  # fmt: skip
    return {"state": state, "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("cls, torch_name, kwargs", TORCH_RESUMES, ids=TORCH_RESUME_IDS)
def test_pytorch_resumes_from_a_theta_optimizer_state_dict(cls, torch_name, kwargs):
    problem = Quadratic()
    opt, W, b = _theta_opt(cls, kwargs, problem.W0, problem.b0)
    run_theta(opt, W, b, problem, 7)
    W0, b0 = W.data.copy(), b.data.copy()
    ours = run_theta(opt, W, b, problem, 8)[-1]
    torch_state = theta_state_to_torch(json_round_trip(_state_at(cls, kwargs, problem, 7)))
    tW, tb, _ = _torch_run(torch_name, kwargs, problem, W0, b0, 8, state=torch_state)
    np.testing.assert_allclose(ours[0], tW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[1], tb, rtol=1e-12, atol=1e-12)


def _state_at(cls, kwargs, problem, n_steps):
    opt, W, b = _theta_opt(cls, kwargs, problem.W0, problem.b0)
    run_theta(opt, W, b, problem, n_steps)
    return opt.state_dict()


@pytest.mark.parametrize(
    "cls, torch_name, kwargs, match",
    [
        (Adam, "Adam", dict(maximize=True), r"maximize=True, which changes the update .*"
                                            r"supports only maximize=False"),
        (Adam, "AdamW", {}, r"Adam.load_state_dict: parameter group 0 was saved with "
                            r"decoupled_weight_decay=True"),
        (AdamW, "Adam", {}, r"decoupled_weight_decay=False"),
        (RMSprop, "RMSprop", dict(maximize=True), r"RMSprop.*maximize=True"),
    ],
    ids=["adam_maximize", "adamw_into_adam", "adam_into_adamw", "rmsprop_maximize"],
)  # fmt: skip
def test_pytorch_options_that_change_the_update_are_refused(cls, torch_name, kwargs, match):
    W = torch.ones(2, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([W], lr=0.1, foreach=True, **kwargs)
    W.grad = torch.ones(2)
    topt.step()
    opt = cls([leaf([1.0, 1.0])], lr=0.1)
    before = opt.param_groups[0]["lr"], dict(opt.state)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(topt.state_dict())
    assert (opt.param_groups[0]["lr"], dict(opt.state)) == before


def test_a_pytorch_adam_state_without_steps_is_refused():
    saved = _two_param_adam().state_dict()
    del saved["state"][1]["step"]
    with pytest.raises(ValueError, match=r"state of parameter 1 has no 'step'; Adam's update"):
        Adam([leaf([1.0, 2.0]), leaf([3.0])]).load_state_dict(saved)


@pytest.mark.parametrize("chunk_bytes", [64, 256 * 1024], ids=["split", "one_chunk"])
def test_sgd_chunked_update_equals_the_formula_bit_for_bit(chunk_bytes, rng, monkeypatch):
    # chunks of 8 float64 (16 float32) elements split the large parameters; a transposed one
    # and a 0-d one take the whole-array path; plain SGD chunks, momentum does not
    from theta.optim import sgd

    monkeypatch.setattr(sgd, "CHUNK_BYTES", chunk_bytes)
    inits = [
        rng.standard_normal((5, 7)),
        rng.standard_normal(40).astype(np.float32),
        np.asfortranarray(rng.standard_normal((6, 4))),
        np.array(0.5),
        np.zeros((0, 3)),
    ]
    for kwargs in (dict(lr=0.3), dict(lr=0.3, momentum=0.9)):
        ps = [leaf(a, a.dtype) for a in inits]
        ps[2].data = inits[2].copy(order="F")
        ref = [a.copy() for a in inits]
        bufs: list = [None] * len(inits)
        opt = SGD(ps, **kwargs)
        for _ in range(3):
            for j, p in enumerate(ps):
                p.grad = rng.standard_normal(p.shape).astype(p.dtype)
                d = p.grad
                if "momentum" in kwargs:
                    bufs[j] = d.copy() if bufs[j] is None else bufs[j] * 0.9 + d
                    d = bufs[j]
                ref[j] -= d * 0.3
            opt.step()
        for p, a in zip(ps, ref, strict=True):
            assert np.array_equal(p.data, a) and p.data.dtype == a.dtype
