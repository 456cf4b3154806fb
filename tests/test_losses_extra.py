"""nll_loss, class weights, probability targets, BCE weights and pos_weight, 0-d BCE: every
keyword combination against torch.nn.functional and a NumPy reference (float64, 1e-10),
through the op table, plus the errors."""

import numpy as np
import pytest
from optable import Op, table_tests

import theta
from theta.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    get_loss,
    nll_loss,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

REDUCTIONS = ("mean", "sum", "none")
WEIGHT = np.array([0.5, 2.0, 1.5])  # one per class, C = 3
SHAPES = ((5, 3), (2, 3, 2, 2))  # (N, C) and (N, C, d1, d2)


# --- NumPy references, straight from PyTorch's documented formulas ---------------------------


def _reduce(per: np.ndarray, reduction: str, divisor: float) -> np.ndarray:
    if reduction == "none":
        return per
    return per.sum() / divisor if reduction == "mean" else per.sum()


def _class_axis(w: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) -> (1, C, 1, ...), to broadcast along axis 1 of an (N, C, d...) array."""
    return w.reshape(1, -1, *([1] * (ndim - 2)))


def np_cross_entropy(x, t, weight=None, smoothing=0.0, ignore=None, soft=False, reduction="mean"):
    C = x.shape[1]
    log_p = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    w = np.ones(C) if weight is None else weight
    if soft:
        q = (t * (1 - smoothing) + smoothing / C) * _class_axis(w, x.ndim)
        return _reduce(-(q * log_p).sum(axis=1), reduction, x.size / C)
    keep = np.ones(t.shape, bool) if ignore is None else t != ignore
    y = np.where(keep, t, 0)
    onehot = _class_axis(np.arange(C), x.ndim) == y[:, None]
    q = ((1 - smoothing) * onehot + smoothing / C) * _class_axis(w, x.ndim)
    return _reduce(-(q * log_p).sum(axis=1) * keep, reduction, (w[y] * keep).sum())


def np_nll(x, t, weight=None, ignore=None, reduction="mean"):
    w = np.ones(x.shape[1]) if weight is None else weight
    keep = np.ones(t.shape, bool) if ignore is None else t != ignore
    y = np.where(keep, t, 0)
    per = -np.take_along_axis(x, y[:, None], axis=1)[:, 0] * w[y] * keep
    return _reduce(per, reduction, (w[y] * keep).sum())


def np_bce(p, y, weight=None, reduction="mean"):
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * (1.0 if weight is None else weight)
    return _reduce(per, reduction, p.size)


def np_bce_logits(x, y, weight=None, pos_weight=None, reduction="mean"):
    sig = 1.0 / (1.0 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    per = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig)) * (1.0 if weight is None else weight)
    return _reduce(per, reduction, x.size)


# --- samplers ----------------------------------------------------------------------------


def class_targets(shape, ignore=None):
    """Scores of ``shape`` (N, C, d...) and integer targets (N, d...); position 0 ignored."""

    def sample(rng):
        t = rng.integers(0, shape[1], (shape[0], *shape[2:]))
        if ignore is not None:
            t.flat[0] = ignore
        return [rng.standard_normal(shape), t]

    return sample


def soft_targets(shape):
    """Scores and per-position class probabilities (rows summing to 1), both of ``shape``."""

    def sample(rng):
        t = rng.uniform(0.1, 1.0, shape)
        return [rng.standard_normal(shape), t / t.sum(axis=1, keepdims=True)]

    return sample


def binary(shape, low, high):
    """Inputs in ``[low, high)`` and soft labels in (0, 1), both of ``shape`` (may be 0-d)."""
    return lambda rng: [np.asarray(rng.uniform(low, high, shape)),
                        np.asarray(rng.uniform(0.05, 0.95, shape))]  # fmt: skip


def _torch_kw(kw: dict) -> dict:
    """theta's keywords as torch's: arrays become float64 tensors, names stay."""
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def _tag(kw: dict) -> str:
    return "-".join(f"{k}={'w' if isinstance(v, np.ndarray) else v}" for k, v in kw.items())


# --- the table -----------------------------------------------------------------------------


def _rows() -> list[Op]:
    rows = []
    for shape in SHAPES:
        s = "x".join(map(str, shape))
        for reduction in REDUCTIONS:
            for weight in (None, WEIGHT):
                for ignore in (None, -100, 1):
                    kw = {"weight": weight, "ignore_index": ignore, "reduction": reduction}
                    tkw = _torch_kw({**kw, "ignore_index": -100 if ignore is None else ignore})
                    rows.append(Op(
                        f"nll-{s}-{_tag(kw)}",
                        lambda x, t, kw=kw: nll_loss(x, t, **kw),
                        lambda x, t, kw=kw: np_nll(
                            x, t, kw["weight"], kw["ignore_index"], kw["reduction"]),
                        lambda x, t, tkw=tkw: F.nll_loss(x, t, **tkw),
                        class_targets(shape, ignore),
                    ))  # fmt: skip
                    for smoothing in (0.0, 0.2):
                        kw2 = {**kw, "label_smoothing": smoothing}
                        tkw2 = {**tkw, "label_smoothing": smoothing}
                        rows.append(Op(
                            f"ce-{s}-{_tag(kw2)}",
                            lambda x, t, kw=kw2: cross_entropy(x, t, **kw),
                            lambda x, t, kw=kw2: np_cross_entropy(
                                x, t, kw["weight"], kw["label_smoothing"], kw["ignore_index"],
                                reduction=kw["reduction"]),
                            lambda x, t, tkw=tkw2: F.cross_entropy(x, t, **tkw),
                            class_targets(shape, ignore),
                        ))  # fmt: skip
                for smoothing in (0.0, 0.2):
                    kw = {"weight": weight, "label_smoothing": smoothing, "reduction": reduction}
                    rows.append(Op(
                        f"ce_soft-{s}-{_tag(kw)}",
                        lambda x, t, kw=kw: cross_entropy(x, t, **kw),
                        lambda x, t, kw=kw: np_cross_entropy(
                            x, t, kw["weight"], kw["label_smoothing"], soft=True,
                            reduction=kw["reduction"]),
                        lambda x, t, tkw=_torch_kw(kw): F.cross_entropy(x, t, **tkw),  # noqa: B008
                        soft_targets(shape),
                    ))  # fmt: skip
    weights = {"none": None, "full": np.linspace(0.5, 2.0, 12).reshape(4, 3), "cls": WEIGHT,
               "col": np.array([[1.0], [0.0], [2.0], [0.5]]), "0d": np.array(1.5)}  # fmt: skip
    pos_weights = {"none": None, "cls": np.array([3.0, 0.5, 1.0]), "full": weights["full"] * 2}
    for reduction in REDUCTIONS:
        for shape, names in (((4, 3), weights), ((), ("none", "0d"))):
            s = "x".join(map(str, shape)) or "0d"
            for wname in names:
                kw = {"weight": weights[wname], "reduction": reduction}
                rows.append(Op(
                    f"bce-{s}-w={wname}-{reduction}",
                    lambda p, y, kw=kw: binary_cross_entropy(p, y, **kw),
                    lambda p, y, kw=kw: np_bce(p, y, **kw),
                    lambda p, y, tkw=_torch_kw(kw): F.binary_cross_entropy(p, y, **tkw),  # noqa: B008
                    binary(shape, 0.05, 0.95),
                ))  # fmt: skip
                for pname in pos_weights if shape else ("none", "0d"):
                    pw = np.array(3.0) if pname == "0d" else pos_weights[pname]
                    kw = {"weight": weights[wname], "pos_weight": pw, "reduction": reduction}
                    rows.append(Op(
                        f"bce_logits-{s}-w={wname}-pw={pname}-{reduction}",
                        lambda x, y, kw=kw: binary_cross_entropy_with_logits(x, y, **kw),
                        lambda x, y, kw=kw: np_bce_logits(x, y, **kw),
                        lambda x, y, tkw=_torch_kw(kw): (  # noqa: B008
                            F.binary_cross_entropy_with_logits(x, y, **tkw)),
                        binary(shape, -3.0, 3.0),
                    ))  # fmt: skip
    return rows


ROWS = _rows()
(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(ROWS)


# --- edges the table cannot express --------------------------------------------------------


def test_nll_loss_is_reachable_by_name():
    assert get_loss("nll") is nll_loss
    assert get_loss("nll_loss") is nll_loss


def test_nll_loss_of_log_softmax_equals_cross_entropy(rng):
    x = rng.standard_normal((4, 3, 2))
    y = rng.integers(0, 3, (4, 2))
    a = theta.tensor(x, requires_grad=True)
    b = theta.tensor(x, requires_grad=True)
    nll_loss(theta.log_softmax(a, axis=1), y, weight=WEIGHT).backward()
    cross_entropy(b, y, weight=WEIGHT).backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn", [nll_loss, cross_entropy], ids=["nll", "ce"])
def test_mean_with_nothing_kept_is_nan_like_torch(fn):
    x, y = np.zeros((2, 3)), np.array([1, 0])
    weight = np.array([0.0, 0.0, 1.0])
    torch_fn = getattr(F, fn.__name__)
    ours = fn(theta.tensor(x), y, weight=weight).item()
    theirs = torch_fn(torch.tensor(x), torch.tensor(y), weight=torch.tensor(weight)).item()
    assert np.isnan(ours) and np.isnan(theirs)
    assert np.isnan(fn(theta.tensor(x), y, ignore_index=1, weight=weight).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch_matches_torch(reduction):
    for fn, t in [(nll_loss, np.zeros(0, dtype=int)), (cross_entropy, np.zeros(0, dtype=int)),
                  (cross_entropy, np.zeros((0, 3)))]:  # fmt: skip
        ours = fn(theta.tensor(np.zeros((0, 3))), t, weight=WEIGHT, reduction=reduction)
        theirs = getattr(F, fn.__name__)(
            torch.zeros(0, 3, dtype=torch.float64), torch.tensor(t), weight=torch.tensor(WEIGHT),
            reduction=reduction,
        )  # fmt: skip
        np.testing.assert_allclose(ours.data, theirs.numpy(), strict=True)


def test_probability_target_gradient_flows_into_a_float32_model(rng):
    logits = theta.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    teacher = theta.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    soft = theta.softmax(teacher, axis=1)
    loss = cross_entropy(logits, soft, weight=np.ones(4), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32
    assert logits.grad.dtype == teacher.grad.dtype == np.float32
    assert np.abs(teacher.grad).sum() > 0


def test_integer_same_shape_targets_are_still_read_as_one_hot_mistakes():
    with pytest.raises(ValueError, match="One-hot targets"):
        cross_entropy(theta.tensor(np.zeros((2, 3))), np.eye(3, dtype=int)[[0, 1]])


def test_weights_and_targets_are_not_kept_by_reference(rng):
    """The caller may reuse its arrays after the forward; backward must see the originals."""
    x = rng.standard_normal((4, 3))
    y, w = np.array([0, 1, 2, 1]), WEIGHT.copy()
    ours = theta.tensor(x, requires_grad=True)
    loss = nll_loss(ours, y, weight=w)
    y[:], w[:] = 0, 9.0
    loss.backward()
    ref = torch.tensor(x, requires_grad=True)
    F.nll_loss(ref, torch.tensor([0, 1, 2, 1]), weight=torch.tensor(WEIGHT)).backward()
    np.testing.assert_allclose(ours.grad, ref.grad.numpy(), rtol=1e-12)


# --- errors ----------------------------------------------------------------------------------


def test_nll_loss_errors():
    x = theta.tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"nll_loss: log_probabilities must have shape \(N, C\)"):
        nll_loss(theta.tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match=r"nll_loss: input of shape \(4, 3\) needs .*\(4,\), got "
                                         r"target of shape \(5,\)"):  # fmt: skip
        nll_loss(x, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"nll_loss: target values .* \[0, 3\).*\[3\]"):
        nll_loss(x, np.array([0, 3, 1, 0]))
    with pytest.raises(ValueError, match="nll_loss: target must hold integer"):
        nll_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match="nll_loss: reduction must be"):
        nll_loss(x, np.zeros(4, dtype=int), reduction="avg")
    with pytest.raises(TypeError, match="nll_loss: log_probabilities must be a floating-point"):
        nll_loss(theta.tensor(np.zeros((4, 3), dtype=int)), np.zeros(4, dtype=int))


@pytest.mark.parametrize("fn", [nll_loss, cross_entropy], ids=["nll", "ce"])
def test_class_weight_must_have_one_entry_per_class(fn):
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: weight must hold one number per class, shape "
                                         r"\(3,\) for input of shape \(4, 3, 2\) \(got weight "
                                         r"of shape \(4,\)\)"):  # fmt: skip
        fn(theta.tensor(np.zeros((4, 3, 2))), np.zeros((4, 2), dtype=int), weight=np.ones(4))


def test_ignore_index_with_probability_targets_is_an_error():
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index .* shape \(2, 3\)"):
        cross_entropy(theta.tensor(np.zeros((2, 3))), np.full((2, 3), 1 / 3), ignore_index=0)


@pytest.mark.parametrize(
    "fn, key, shape",
    [(binary_cross_entropy, "weight", (2,)), (binary_cross_entropy, "weight", (2, 4, 3)),
     (binary_cross_entropy_with_logits, "weight", (3, 1)),
     (binary_cross_entropy_with_logits, "pos_weight", (4,))],
)  # fmt: skip
def test_binary_weights_must_broadcast_to_the_input(fn, key, shape):
    message = rf"{fn.__name__}: {key} of shape \({shape[0]},.*broadcast to the input's shape \(4, 3"
    with pytest.raises(ValueError, match=message):
        fn(theta.tensor(np.full((4, 3), 0.5)), np.ones((4, 3)), **{key: np.ones(shape)})
