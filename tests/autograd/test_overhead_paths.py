"""The fast paths of the per-op overhead work (issue 16) give the slow paths' answers."""

import numpy as np
import pytest
import torch

import theta
from theta.losses import cross_entropy


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_default_seed_for_one_element_outputs(shape):
    x = theta.tensor(np.full(shape, 3.0), requires_grad=True)
    (x * x).backward()
    assert x.grad.shape == shape and x.grad.dtype == x.dtype
    np.testing.assert_array_equal(x.grad, np.full(shape, 6.0))


def test_shares_of_a_node_used_three_times_add_up():
    # h is both inputs of one op and the input of another: three shares wait, then add
    a = theta.tensor([1.0, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    h = a * 2.0
    (h * h + h.exp()).sum().backward()
    t = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    th = t * 2.0
    (th * th + th.exp()).sum().backward()
    np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-12)


def test_scalar_parameter_gradient_is_an_owned_0d_array():
    w = theta.tensor(0.5, dtype=np.float64, requires_grad=True)
    x = theta.tensor(np.arange(5.0))
    ((w * x) ** 2).mean().backward()
    assert isinstance(w.grad, np.ndarray) and w.grad.shape == () and w.grad.flags.writeable
    np.testing.assert_allclose(w.grad, np.mean(2 * 0.5 * np.arange(5.0) ** 2))


@pytest.mark.parametrize("n", [3, 600])  # a cached row index (n <= 512) and a fresh one
def test_cross_entropy_row_indices_match_torch(n):
    rng = np.random.default_rng(n)
    logits = rng.standard_normal((n, 4))
    target = rng.integers(0, 4, n)
    x = theta.tensor(logits, requires_grad=True)
    for _ in range(2):  # the second call reuses the cached index
        x.grad = None
        loss = cross_entropy(x, target)
        loss.backward()
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(target))
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)
