"""PyTorch's state dicts, both ways, through files: a safetensors file that PyTorch wrote loads
strictly into the equivalent theta module, and the files theta writes (``io.save_state_dict``
and a model folder's ``model.safetensors``) load strictly into the PyTorch module; either way
both then compute the same outputs (float32, as each library makes its modules by default).

The PyTorch twins are ``torch.nn`` modules themselves wherever theta's module has PyTorch's
structure (Linear, LayerNorm, Embedding, ``Sequential``, an MLP as ``Sequential(Linear, act,
...)``, ``MultiheadAttention``); the transformer block, which PyTorch does not have in this
form, is built from ``torch.nn`` parts under theta's names.
"""

import numpy as np
import pytest

import theta
from theta import io
from theta.nn import (
    GELU,
    MLP,
    Embedding,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    Sequential,
    TransformerBlock,
    attention_mask,
)

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
tnn = torch.nn


class TorchSelfAttention(tnn.MultiheadAttention):
    """``torch.nn.MultiheadAttention`` called as theta's ``MultiHeadAttention``: x → y."""

    def __init__(self, C, n_heads, *, causal=False, bias=True):
        super().__init__(C, n_heads, bias=bias, batch_first=True)
        self.causal = causal

    def forward(self, x):
        mask = torch.as_tensor(attention_mask(x.shape[1], causal=True)) if self.causal else None
        return super().forward(x, x, x, attn_mask=mask, need_weights=False)[0]


class TorchBlock(tnn.Module):
    """theta's ``TransformerBlock`` from torch.nn parts: pre-norm, GELU (tanh form) MLP."""

    def __init__(self, C, n_heads):
        super().__init__()
        self.ln1, self.attn = tnn.LayerNorm(C), TorchSelfAttention(C, n_heads, causal=True)
        self.ln2, self.fc, self.proj = tnn.LayerNorm(C), tnn.Linear(C, 4 * C), tnn.Linear(4 * C, C)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.proj(tnn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))


def floats(*shape):
    return np.random.default_rng(7).standard_normal(shape).astype(np.float32)


IDS = np.array([[1, 2, 3, 9], [0, 9, 4, 4]])

# name: (theta module, torch module, input)
CASES = {
    "linear": (lambda: Linear(5, 3, rng=0), lambda: tnn.Linear(5, 3), floats(4, 5)),
    "linear_no_bias": (
        lambda: Linear(5, 3, bias=False, rng=0), lambda: tnn.Linear(5, 3, bias=False),
        floats(2, 4, 5),
    ),
    "layer_norm": (lambda: LayerNorm((4, 5)), lambda: tnn.LayerNorm((4, 5)), floats(2, 3, 4, 5)),
    "embedding": (lambda: Embedding(10, 4, rng=0), lambda: tnn.Embedding(10, 4), IDS),
    "mlp": (
        lambda: MLP((5, 8, 7, 3), rng=0),
        lambda: tnn.Sequential(tnn.Linear(5, 8), tnn.ReLU(), tnn.Linear(8, 7), tnn.ReLU(),
                               tnn.Linear(7, 3)),
        floats(6, 5),
    ),
    "mlp_gelu_dropout": (
        lambda: MLP((5, 8, 3), activation="gelu", dropout=0.2, rng=0),
        lambda: tnn.Sequential(tnn.Linear(5, 8), tnn.GELU(), tnn.Dropout(0.2), tnn.Linear(8, 3)),
        floats(6, 5),
    ),
    "sequential": (
        lambda: Sequential(Embedding(10, 4, rng=0), LayerNorm(4), Linear(4, 6, rng=1),
                           GELU("tanh"), Linear(6, 2, bias=False, rng=2)),
        lambda: tnn.Sequential(tnn.Embedding(10, 4), tnn.LayerNorm(4), tnn.Linear(4, 6),
                               tnn.GELU(approximate="tanh"), tnn.Linear(6, 2, bias=False)),
        IDS,
    ),
    "attention": (
        lambda: MultiHeadAttention(12, 3, rng=0), lambda: TorchSelfAttention(12, 3),
        floats(2, 5, 12),
    ),
    "attention_causal": (
        lambda: MultiHeadAttention(12, 3, causal=True, rng=0),
        lambda: TorchSelfAttention(12, 3, causal=True), floats(2, 5, 12),
    ),
    "attention_no_bias": (
        lambda: MultiHeadAttention(12, 3, bias=False, rng=0),
        lambda: TorchSelfAttention(12, 3, bias=False), floats(2, 5, 12),
    ),
    "transformer_block": (
        lambda: TransformerBlock(16, 4, causal=True, rng=0), lambda: TorchBlock(16, 4),
        floats(2, 6, 16),
    ),
}  # fmt: skip


def outputs(theta_module, torch_module, x) -> tuple[np.ndarray, np.ndarray]:
    """Both modules' outputs for ``x``, in inference mode (dropout off)."""
    ours = theta_module.eval()(x if x.dtype.kind == "i" else theta.tensor(x)).numpy()
    with torch.no_grad():
        theirs = torch_module.eval()(torch.from_numpy(x)).numpy()
    return ours, theirs


def assert_same_outputs(theta_module, torch_module, x) -> None:
    ours, theirs = outputs(theta_module, torch_module, x)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_a_file_pytorch_saved_loads_strictly_and_computes_the_same(tmp_path, name):
    make_theta, make_torch, x = CASES[name]
    torch.manual_seed(0)
    twin = make_torch()
    with torch.no_grad():  # LayerNorm starts at ones and zeros: move every parameter
        for p in twin.parameters():
            p.add_(0.3 * torch.randn_like(p))
    safetensors_torch.save_file(twin.state_dict(), tmp_path / "torch.safetensors")
    module = make_theta()
    state = io.load_state_dict(tmp_path / "torch.safetensors")
    assert module.load_state_dict(state, strict=True) == ([], [])
    assert list(module.state_dict()) == list(twin.state_dict())
    assert_same_outputs(module, twin, x)


@pytest.mark.parametrize("name", list(CASES))
def test_the_files_theta_saves_load_strictly_into_pytorch(tmp_path, name):
    make_theta, make_torch, x = CASES[name]
    module = make_theta()
    rng = np.random.default_rng(1)
    for p in module.parameters():
        p.data += 0.3 * rng.standard_normal(p.shape).astype(p.dtype)
    io.save_state_dict(module.state_dict(), tmp_path / "theta.safetensors")
    io.save(module, tmp_path / "folder")
    for file in (tmp_path / "theta.safetensors", tmp_path / "folder" / "model.safetensors"):
        twin = make_torch()
        twin.load_state_dict(safetensors_torch.load_file(file), strict=True)
        assert_same_outputs(module, twin, x)


def test_a_strict_load_of_the_other_layout_names_every_key(tmp_path):
    # an MLP is Sequential(Linear, ReLU, Linear) to PyTorch, not a module holding ``layers``
    twin = tnn.ModuleDict({"layers": tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU(),
                                                    tnn.Linear(3, 1))})  # fmt: skip
    safetensors_torch.save_file(twin.state_dict(), tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match=r"missing keys: 0\.weight.*unexpected keys: layers\.0"):
        MLP((2, 3, 1), rng=0).load_state_dict(io.load_state_dict(tmp_path / "other.safetensors"))
