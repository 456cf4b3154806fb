"""theta.distributions against torch.distributions on the same inputs (float64)."""

import math

import numpy as np
import pytest
import torch

from theta import Tensor
from theta.distributions import Bernoulli, Categorical, Normal, TanhNormal


def leaf(array):
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def twin(array):
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def close(a, b, atol=1e-10):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-9, atol=atol)


RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(4, 3)) * 3
LOGITS[0, 1] = -np.inf  # an impossible category: log_prob stays finite elsewhere, entropy too


@pytest.mark.parametrize("form", ["logits", "probs"])
def test_categorical_log_prob_entropy_and_gradients_match_torch(form):
    raw = LOGITS if form == "logits" else np.exp(LOGITS) * 5  # unnormalised probabilities
    ours, theirs = leaf(raw), twin(raw)
    d = Categorical(**{form: ours})
    t = torch.distributions.Categorical(**{form: theirs})
    value = np.array([0, 2, 1, 2])
    lp, tlp = d.log_prob(value), t.log_prob(torch.tensor(value))
    ent, tent = d.entropy(), t.entropy()
    close(lp.data, tlp)
    close(ent.data, tent)
    close(d.probs.data, t.probs)
    (lp.sum() + 0.3 * ent.sum()).backward()
    (tlp.sum() + 0.3 * tent.sum()).backward()
    close(ours.grad, theirs.grad, atol=1e-9)


def test_categorical_log_prob_broadcasts_values_over_the_batch():
    d = Categorical(logits=Tensor(LOGITS[1:]))
    t = torch.distributions.Categorical(logits=torch.tensor(LOGITS[1:]))
    value = np.array([[0], [1]])  # (2, 1) against batch (3,) -> (2, 3)
    close(d.log_prob(value).data, t.log_prob(torch.tensor(value)))


def test_categorical_samples_follow_the_probabilities():
    probs = np.array([0.1, 0.6, 0.3])
    draws = Categorical(probs=Tensor(probs)).sample((20_000,), rng=0).numpy()
    assert draws.shape == (20_000,) and draws.dtype == np.int64
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20_000, probs, atol=0.015)
    same = Categorical(probs=Tensor(probs)).sample((5,), rng=0).numpy()
    np.testing.assert_array_equal(same, draws[:5])


def test_categorical_mode():
    assert Categorical(logits=Tensor(LOGITS)).mode.tolist() == LOGITS.argmax(-1).tolist()


MU = RNG.normal(size=(3, 2))
SIGMA = np.exp(RNG.normal(size=(2,)))  # broadcasts against MU


def test_normal_log_prob_entropy_and_gradients_match_torch():
    loc, scale, tloc, tscale = leaf(MU), leaf(SIGMA), twin(MU), twin(SIGMA)
    value = RNG.normal(size=(3, 2))
    d, t = Normal(loc, scale), torch.distributions.Normal(tloc, tscale)
    assert d.batch_shape == tuple(t.batch_shape)
    lp, tlp = d.log_prob(value), t.log_prob(torch.tensor(value))
    close(lp.data, tlp)
    close(d.entropy().data, t.entropy())
    (lp.sum() + d.entropy().sum()).backward()
    (tlp.sum() + t.entropy().sum()).backward()
    close(loc.grad, tloc.grad)
    close(scale.grad, tscale.grad)


def test_normal_rsample_is_the_reparameterised_draw_with_torch_gradients():
    loc, scale, tloc, tscale = leaf(MU), leaf(SIGMA), twin(MU), twin(SIGMA)
    x = Normal(loc, scale).rsample((5,), rng=3)
    eps = torch.tensor(np.random.default_rng(3).standard_normal((5, 3, 2)))
    tx = tloc + tscale * eps  # what torch's rsample computes from that noise
    close(x.data, tx)
    weights = RNG.normal(size=(5, 3, 2))
    (x * weights).sum().backward()
    (tx * torch.tensor(weights)).sum().backward()
    close(loc.grad, tloc.grad)
    close(scale.grad, tscale.grad)


def test_normal_sample_has_no_gradient_and_the_right_moments():
    d = Normal(Tensor(np.array([1.0, -2.0])), Tensor(np.array([0.5, 2.0])))
    s = d.sample((50_000,), rng=0)
    assert not s.requires_grad and s.shape == (50_000, 2)
    np.testing.assert_allclose(s.numpy().mean(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(s.numpy().std(0), [0.5, 2.0], rtol=0.02)
    assert d.mean is d.loc and d.mode is d.loc and d.stddev is d.scale
    np.testing.assert_allclose(d.variance.data, [0.25, 4.0])


@pytest.mark.parametrize("form", ["logits", "probs"])
def test_bernoulli_matches_torch(form):
    raw = RNG.normal(size=(5,)) * 4
    if form == "probs":
        raw = 1 / (1 + np.exp(-raw))
    ours, theirs = leaf(raw), twin(raw)
    d = Bernoulli(**{form: ours})
    t = torch.distributions.Bernoulli(**{form: theirs})
    value = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    lp, tlp = d.log_prob(value), t.log_prob(torch.tensor(value))
    close(lp.data, tlp, atol=1e-9)
    close(d.entropy().data, t.entropy(), atol=1e-9)
    close(d.mean.data, t.mean)
    (lp.sum() + d.entropy().sum()).backward()
    (tlp.sum() + t.entropy().sum()).backward()
    close(ours.grad, theirs.grad, atol=1e-8)


def test_bernoulli_samples_and_mode():
    d = Bernoulli(probs=Tensor(np.array([0.2, 0.5, 0.9])))
    s = d.sample((20_000,), rng=1).numpy()
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(0), [0.2, 0.5, 0.9], atol=0.015)
    mode = d.mode.numpy()
    assert mode[0] == 0 and math.isnan(mode[1]) and mode[2] == 1


def test_tanh_normal_log_prob_is_the_change_of_variables():
    loc, scale = leaf(MU), leaf(SIGMA)
    d = TanhNormal(loc, scale)
    action, logp = d.rsample_and_log_prob(rng=5)
    u = torch.tensor(MU) + torch.tensor(SIGMA) * torch.tensor(
        np.random.default_rng(5).standard_normal((3, 2)))
    base = torch.distributions.Normal(torch.tensor(MU), torch.tensor(SIGMA))
    expected = base.log_prob(u) - torch.log(1 - torch.tanh(u) ** 2 + 1e-6)
    close(action.data, torch.tanh(u))
    close(logp.data, expected, atol=1e-9)
    close(d.log_prob(action.data).data, expected, atol=1e-6)  # through atanh
    logp.sum().backward()
    assert loc.grad.shape == (3, 2) and np.isfinite(loc.grad).all()
    assert np.abs(d.sample((100,), rng=0).numpy()).max() < 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Normal(np.zeros(2), np.array([1.0, 0.0])), "scale must be positive"),
        (lambda: Normal(Tensor(np.array([np.nan])), 1.0), "loc must be a real number"),
        (lambda: Normal(np.zeros(3), np.ones(2)), "do not broadcast"),
        (lambda: Categorical(probs=np.array([0.5, -0.1])), "non-negative"),
        (lambda: Categorical(probs=np.zeros(2)), "sum to more than 0"),
        (lambda: Categorical(logits=np.array([np.nan, 0.0])), "logits must not be NaN"),
        (lambda: Categorical(probs=np.ones(2), logits=np.ones(2)), "either probs or logits"),
        (lambda: Categorical(), "either probs or logits"),
        (lambda: Categorical(logits=np.float64(1.0)), "at least one axis"),
        (lambda: Bernoulli(probs=np.array([1.5])), "probs must lie in [0, 1]"),
        (lambda: Categorical(logits=np.zeros(3)).log_prob(3), "support"),
        (lambda: Categorical(logits=np.zeros(3)).log_prob(0.5), "support"),
        (lambda: Categorical(logits=np.zeros((2, 3))).log_prob(np.zeros(3)), "does not broadcast"),
        (lambda: Bernoulli(probs=np.array([0.5])).log_prob(np.array([2.0])), "support"),
        (lambda: Categorical(logits=np.zeros(3)).rsample(), "no reparameterised sample"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises((ValueError, NotImplementedError), match=message.replace("[", r"\[")):
        make()
