"""The GPT: PyTorch agreement, causality, tied embeddings, errors, saving, sampling, learning.

Dimensions: B batch, T sequence length, C embedding size, V vocabulary size.
"""

import contextlib
import json
import os

import numpy as np
import pytest

from theta import io
from theta.autograd import no_grad
from theta.data import load_tinyshakespeare
from theta.models import (
    GPT,
    CharTokenizer,
    GPTConfig,
    gpt_windows,
    lm_loss,
    next_token_windows,
    train_gpt,
)
from theta.optim import AdamW
from theta.train import ModelCheckpoint, fit
from theta.train.callbacks import EvaluateEvery

SMALL = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_heads": 2, "n_embd": 8}


def small_gpt(**overrides) -> GPT:
    return GPT(**{**SMALL, **overrides}, rng=0)


def logits_of(model: GPT, ids) -> np.ndarray:
    with no_grad():
        return model(np.asarray(ids)).numpy()


# --- against a PyTorch twin ----------------------------------------------------------------


def torch_gpt_from(model: GPT):
    """GPT-2's layout in torch with theta's parameter names, the head tied to ``wte``."""
    torch = pytest.importorskip("torch")
    tnn, tF = torch.nn, torch.nn.functional
    cfg = model.config
    C, nh = cfg.n_embd, cfg.n_heads
    f64 = {"dtype": torch.float64}

    class Attention(tnn.MultiheadAttention):
        def __init__(self):
            super().__init__(C, nh, batch_first=True, **f64)

        def forward(self, x):
            causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
            return super().forward(x, x, x, attn_mask=causal, need_weights=False)[0]

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn = tnn.LayerNorm(C, **f64), Attention()
            self.ln2, self.fc = tnn.LayerNorm(C, **f64), tnn.Linear(C, 4 * C, **f64)
            self.proj = tnn.Linear(4 * C, C, **f64)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.proj(tF.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(cfg.vocab_size, C, **f64)
            self.wpe = tnn.Embedding(cfg.block_size, C, **f64)
            self.blocks = tnn.ModuleList(Block() for _ in range(cfg.n_layer))
            self.ln_f = tnn.LayerNorm(C, **f64)

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.T  # the head is wte

    twin = TorchGPT()
    twin.load_state_dict({k: torch.as_tensor(v) for k, v in model.state_dict().items()})
    return twin


def test_gpt_matches_torch_logits_loss_and_every_gradient(rng):
    torch = pytest.importorskip("torch")
    model = GPT(**SMALL, rng=0, dtype=np.float64)
    for _, p in model.named_parameters():  # non-trivial norms and biases, so all are tested
        p.data[...] += rng.standard_normal(p.shape) * 0.3
    twin = torch_gpt_from(model)
    ids = rng.integers(0, SMALL["vocab_size"], (3, 7))
    targets = rng.integers(0, SMALL["vocab_size"], (3, 7))

    logits = model(ids)
    loss = lm_loss(logits, targets)
    loss.backward()
    ref_logits = twin(torch.as_tensor(ids))
    ref_loss = torch.nn.functional.cross_entropy(ref_logits.reshape(-1, SMALL["vocab_size"]),
                                                 torch.as_tensor(targets).reshape(-1))  # fmt: skip
    ref_loss.backward()

    np.testing.assert_allclose(logits.numpy(), ref_logits.detach().numpy(), rtol=1e-8, atol=1e-8)
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
    theirs = dict(twin.named_parameters())
    assert sorted(n for n, _ in model.named_parameters()) == sorted(theirs)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=1e-8, atol=1e-8,
                                   err_msg=f"gradient of {name}")  # fmt: skip


# --- causality -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_changing_token_t_plus_1_leaves_logits_up_to_t_unchanged(dtype, rng):
    model = GPT(**SMALL, rng=0, dtype=dtype)
    ids = rng.integers(0, SMALL["vocab_size"], (2, SMALL["block_size"]))
    before = logits_of(model, ids)
    for t in range(SMALL["block_size"] - 1):
        changed = ids.copy()
        changed[:, t + 1] = (changed[:, t + 1] + 1 + t) % SMALL["vocab_size"]
        after = logits_of(model, changed)
        message = f"changing token {t + 1} moved earlier logits"
        np.testing.assert_array_equal(after[:, : t + 1], before[:, : t + 1], err_msg=message)
        assert not np.allclose(after[:, t + 1], before[:, t + 1])


def test_logits_of_a_prefix_equal_those_of_the_whole(rng):
    model = small_gpt()
    ids = rng.integers(0, SMALL["vocab_size"], (1, 8))
    np.testing.assert_allclose(logits_of(model, ids[:, :5]), logits_of(model, ids)[:, :5],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


# --- bad input -----------------------------------------------------------------------------


def test_sequence_longer_than_block_size_names_both_numbers():
    model = small_gpt()
    with pytest.raises(ValueError, match=r"sequence length 9 exceeds block_size 8"):
        model(np.zeros((1, 9), dtype=np.int64))


@pytest.mark.parametrize("bad", [11, 40, -1])
def test_token_ids_outside_the_vocabulary_are_refused(bad):
    model = small_gpt()
    ids = np.array([[0, 3, bad, 2]])
    with pytest.raises(ValueError, match=r"\[0, 11\) for vocab_size 11") as info:
        model(ids)
    assert str(bad) in str(info.value)


def test_token_ids_must_be_integers():
    with pytest.raises(TypeError, match="integers"):
        small_gpt()(np.array([[0.0, 1.0]]))


def test_token_ids_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        small_gpt()(np.array([0, 1, 2]))


def test_width_not_divisible_by_heads_is_refused():
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_heads \(3\)"):
        GPT(vocab_size=5, block_size=4, n_layer=1, n_heads=3, n_embd=10)
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_heads \(4\)"):
        GPTConfig(n_embd=10, n_heads=4)


@pytest.mark.parametrize("field, value", [("n_layer", 0), ("block_size", -1), ("vocab_size", 2.5),
                                          ("dropout", 1.0), ("n_heads", True),
                                          ("bias", 1)])  # fmt: skip
def test_config_rejects_bad_numbers(field, value):
    with pytest.raises(ValueError, match=field):
        GPTConfig(**{field: value})


def test_one_config_builds_the_model_and_its_fields_are_the_hyperparameters():
    config = GPTConfig(**SMALL)
    a, b = GPT(config, rng=0), GPT(**SMALL, rng=0)  # the fields by name: the same model
    assert a.config is config and b.config == config
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert a.hyperparameters() == {**SMALL, "dropout": 0.0, "bias": True}
    assert not hasattr(a, "config_dict")


@pytest.mark.parametrize(
    "args, kwargs, needle",
    [
        ((11,), {}, "config must be a GPTConfig (got int 11)"),
        ((GPTConfig(),), {"n_layer": 2}, "not both"),
        ((), {"n_layers": 2}, "unknown config field 'n_layers'"),
    ],
)
def test_gpt_refuses_anything_but_one_config(args, kwargs, needle):
    with pytest.raises(TypeError) as info:
        GPT(*args, **kwargs)
    assert needle in str(info.value)


def test_a_folder_saved_with_flat_hyperparameters_loads(tmp_path):
    model = small_gpt()
    io.save(model, tmp_path / "gpt")
    path = tmp_path / "gpt" / "config.json"
    config = json.loads(path.read_text())
    # what every GPT folder saved before the one-config GPT holds: the fields, flat
    old = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_heads": 2, "n_embd": 8,
           "dropout": 0.0, "bias": True}  # fmt: skip
    assert config["hyperparameters"] == old
    path.write_text(json.dumps({**config, "hyperparameters": old}, indent=2) + "\n")
    again = io.load(tmp_path / "gpt")
    assert again.config == model.config
    np.testing.assert_array_equal(logits_of(again, [[1, 2, 3]]), logits_of(model, [[1, 2, 3]]))


# --- tied embeddings -----------------------------------------------------------------------


def test_head_is_the_token_embedding_and_counted_once():
    model = small_gpt()
    V, Tb, C, L = (SMALL[k] for k in ("vocab_size", "block_size", "n_embd", "n_layer"))
    norms, qkv, attn_proj = 2 * (2 * C), 3 * C * C + 3 * C, C * C + C
    per_block = norms + qkv + attn_proj + (4 * C * C + 4 * C) + (4 * C * C + C)  # ... fc, proj
    assert model.n_parameters() == V * C + Tb * C + L * per_block + 2 * C
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(names)) and not any("head" in n for n in names)
    ids = np.array([[1, 2, 3]])
    model.wte.weight.data[4] += 1.0  # moving one embedding row moves that token's logit
    changed = logits_of(model, ids)
    model.wte.weight.data[4] -= 1.0
    diff = np.abs(changed - logits_of(model, ids)).max(axis=(0, 1))
    assert diff[4] > 0 and diff[[0, 5, 6]].max() < diff[4]


def test_tied_weight_gets_gradient_from_both_uses():
    model = GPT(**SMALL, rng=0, dtype=np.float64)
    ids = np.array([[0, 1, 2]])  # tokens 3..10 are never looked up, only scored by the head
    lm_loss(model(ids), np.array([[1, 2, 3]])).backward()
    grad = model.wte.weight.grad
    assert grad.shape == model.wte.weight.shape
    assert np.all(np.abs(grad[3:]).sum(axis=1) > 0)  # the head's share reaches every row


# --- saving --------------------------------------------------------------------------------


def test_save_and_load_round_trip_gives_identical_logits(tmp_path, rng):
    model = small_gpt()
    ids = rng.integers(0, SMALL["vocab_size"], (4, 8))
    fit(model, ids, np.roll(ids, -1, axis=1), loss=lm_loss, optimizer="adamw", lr=1e-2,
        steps=3, batch_size=None, progress=False)  # fmt: skip
    io.save(model, tmp_path / "gpt")
    again = io.load(tmp_path / "gpt")
    assert isinstance(again, GPT) and again.config == model.config
    np.testing.assert_array_equal(logits_of(again, ids), logits_of(model, ids))
    assert sorted(os.listdir(tmp_path / "gpt")) == ["config.json", "model.safetensors"]
    assert again.wte.weight is next(again.parameters())  # still tied after loading


# --- sampling ------------------------------------------------------------------------------


def test_generate_is_deterministic_for_a_seed():
    model = small_gpt()
    a = model.generate([1, 2, 3], 20, seed=7)
    b = model.generate([1, 2, 3], 20, seed=7)
    c = model.generate([1, 2, 3], 20, seed=8)
    assert a.shape == (23,) and a[:3].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert ((a >= 0) & (a < SMALL["vocab_size"])).all()


def greedy(model: GPT, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        ids.append(int(logits_of(model, [ids[-model.config.block_size :]])[0, -1].argmax()))
    return ids


def test_top_k_1_and_a_tiny_temperature_are_greedy():
    model = small_gpt()
    expected = greedy(model, [4, 5], 12)
    assert model.generate([4, 5], 12, top_k=1, seed=0).tolist() == expected
    assert model.generate([4, 5], 12, temperature=1e-6, seed=1).tolist() == expected


def test_top_k_samples_only_among_the_k_likeliest():
    model = small_gpt()
    for w in model.parameters():  # sharper logits, so the top 3 stand apart
        w.data *= 3.0
    out = model.generate([0], 30, top_k=3, seed=2).tolist()
    for t in range(1, len(out)):
        logits = logits_of(model, [out[max(0, t - 8) : t]])[0, -1]
        assert out[t] in np.argsort(logits)[-3:], f"token {t} is not among the top 3"


def test_high_temperature_spreads_the_samples():
    model = small_gpt()
    cold = model.generate([0], 60, temperature=0.05, seed=3)[1:]
    hot = model.generate([0], 60, temperature=50.0, seed=3)[1:]
    assert len(set(hot.tolist())) > len(set(cold.tolist()))


def test_generate_crops_the_context_to_block_size():
    model = small_gpt()
    long_prompt = np.arange(20) % SMALL["vocab_size"]
    out = model.generate(long_prompt, 10, seed=4)  # 30 tokens: beyond block_size 8 throughout
    assert out.shape == (30,) and out[:20].tolist() == long_prompt.tolist()
    cropped = model.generate(long_prompt[-8:], 10, seed=4)
    np.testing.assert_array_equal(out[20:], cropped[8:])


def test_generate_keeps_a_batch_and_the_training_mode():
    model = small_gpt(dropout=0.1)
    model.train()
    out = model.generate(np.array([[1, 2], [3, 4]]), 5, seed=0)
    assert out.shape == (2, 7) and model.training
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.generate([1], 2, temperature=0.0)


# --- tokenizer and windows -----------------------------------------------------------------


def test_char_tokenizer_round_trip_and_unknown_characters():
    tok = CharTokenizer.from_text("to be or not")
    assert tok.decode(tok.encode("not to be")) == "not to be"
    with pytest.raises(ValueError, match=r"\['z'\] are not in the vocabulary"):
        tok.encode("zoo")


def test_next_token_windows_shift_by_one():
    X, y = next_token_windows(np.arange(10), 4)
    assert X.shape == y.shape == (3, 4)
    np.testing.assert_array_equal(y, X + 1)


# --- learning ------------------------------------------------------------------------------

TINY_TEXT = load_tinyshakespeare()[:200]


@pytest.fixture
def one_blas_thread():
    """Run on one BLAS thread: these GEMMs are small, and on a shared machine OpenBLAS's
    second thread spin-waits for a core, making a training run several times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it with the test extras; without it, run as is
        limit = contextlib.nullcontext()
    else:
        limit = threadpool_limits(limits=1, user_api="blas")
    with limit:
        yield


@pytest.mark.usefixtures("one_blas_thread")
def test_overfits_a_tiny_text_to_near_zero_loss():
    tok = CharTokenizer.from_text(TINY_TEXT)
    X, y = next_token_windows(tok.encode(TINY_TEXT), 64, stride=16)  # 9 windows of 64
    model = GPT(GPTConfig(tok.vocab_size, block_size=64, n_layer=1, n_heads=2, n_embd=32), rng=0)
    history = fit(model, X, y, loss=lm_loss, optimizer="adam", lr=1e-2, steps=100,
                  batch_size=None, progress=False)  # fmt: skip
    assert history.step_loss[0] > 3.0  # about ln(vocab) at the start
    assert history.step_loss[-1] < 0.1, history.step_loss[-10:]
    # and it recites the text: the context stays inside the first window, which it learned
    text = tok.decode(model.generate(tok.encode(TINY_TEXT[:16]), 40, top_k=1))
    assert text == TINY_TEXT[:56]


def val_loss(model: GPT, ids: np.ndarray, block_size: int) -> float:
    X, y = next_token_windows(ids, block_size, stride=block_size)
    model.eval()
    with no_grad():
        return float(lm_loss(model(X), y).item())


@pytest.mark.slow
@pytest.mark.usefixtures("one_blas_thread")
def test_short_training_on_tinyshakespeare_beats_the_bigram_model():
    """First 90% train, last 10% validation by characters; the count bigram scores 2.48.

    800 AdamW steps of 32 random windows of 32 characters (0.8 M characters seen, under one
    pass) through one block of width 64.
    """
    text = load_tinyshakespeare()
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    T, batch, steps = 32, 32, 800
    model = GPT(GPTConfig(tok.vocab_size, block_size=T, n_layer=1, n_heads=4, n_embd=64), rng=0)
    opt = AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.0)
    rng = np.random.default_rng(0)
    offsets = np.arange(T)
    for _ in range(steps):
        starts = rng.integers(0, len(train_ids) - T - 1, batch)[:, None] + offsets  # (B, T)
        loss = lm_loss(model(train_ids[starts]), train_ids[starts + 1])  # 1. forward, 2. loss
        opt.zero_grad()
        loss.backward()  # 3. gradient
        opt.step()  # 4. update
    val = val_loss(model, val_ids[:30_000], T)
    assert val < 2.3, f"validation loss {val:.3f} does not beat the bigram's 2.48 clearly"
    sample = tok.decode(model.generate(tok.encode("ROMEO:"), 50, seed=0))
    assert sample.startswith("ROMEO:") and len(sample) == 56


# --- training on a text: theta.models.train_gpt ------------------------------------------------


def test_gpt_windows_split_the_text_and_name_a_part_too_short():
    (X, y), (X_val, y_val) = gpt_windows(np.arange(100), 4, val_fraction=0.2, eval_windows=3)
    assert X.shape == (76, 4) and X[-1].tolist() == [75, 76, 77, 78] and y[-1][-1] == 79
    assert X_val.tolist() == [[80, 81, 82, 83], [88, 89, 90, 91], [92, 93, 94, 95]]
    np.testing.assert_array_equal(y_val, X_val + 1)
    with pytest.raises(ValueError, match="the validation text has 10 characters; block_size 16"):
        gpt_windows(np.arange(100), 16, val_fraction=0.1)


@pytest.mark.parametrize("old", ["checkpoint", "checkpoint_every"])
def test_train_gpt_checkpoint_keywords_say_their_new_spelling(old):
    with pytest.raises(TypeError, match=rf"^train_gpt: {old}= is gone; write callbacks=\[Model"):
        train_gpt(None, np.arange(100), steps=5, **{old: 1})


def tiny_text_run(tmp_path, name, steps, *, resume=False, **kwargs):
    tok = CharTokenizer.from_text(TINY_TEXT)
    model = GPT(GPTConfig(tok.vocab_size, block_size=8, n_layer=1, n_heads=2, n_embd=8,
                          dropout=0.1), rng=0)  # fmt: skip
    history = train_gpt(model, tok.encode(TINY_TEXT), steps=steps, batch_size=4, seed=0,
                        eval_windows=4, progress=False, resume=resume,
                        callbacks=[ModelCheckpoint(str(tmp_path / name), every_n_steps=2)],
                        **kwargs)  # fmt: skip
    return model, history


def test_train_gpt_resumed_equals_an_uninterrupted_run_validation_table_included(tmp_path):
    whole, whole_history = tiny_text_run(tmp_path, "whole", 12, eval_every=3)
    tiny_text_run(tmp_path, "part", 6, eval_every=3)
    part, part_history = tiny_text_run(tmp_path, "part", 12, eval_every=3, resume=True)
    for (name, p), (_, q) in zip(whole.named_parameters(), part.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    rows = EvaluateEvery.rows(whole_history)
    assert [r[0] for r in rows] == [0, 3, 6, 9, 12] and rows[0][1] is None
    assert rows[1][1] == pytest.approx(np.mean(whole_history.step_loss[:3]))
    assert EvaluateEvery.rows(part_history) == rows


def test_validation_rows_go_to_the_history_file_not_the_checkpoint(tmp_path):
    from theta.train import checkpoint

    _, short = tiny_text_run(tmp_path, "short", 4, eval_every=1)
    _, long = tiny_text_run(tmp_path, "long", 40, eval_every=1)
    assert len(EvaluateEvery.rows(long)) == 41
    sizes = [os.path.getsize(tmp_path / name) for name in ("short", "long")]
    assert abs(sizes[1] - sizes[0]) < 64, sizes  # 36 more rows would add over a kilobyte
    state = checkpoint.load(str(tmp_path / "long"))
    assert ["EvaluateEvery", {}] in state["callbacks"]
