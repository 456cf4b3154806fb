"""Whole models built from ``theta.nn``: a GPT language model with its training on a text, and
a BERT sentence encoder that runs the pretrained all-MiniLM-L6-v2 weights, and a small CNN for
images."""

from theta.models.cnn import CNN
from theta.models.encoder import (
    BertConfig,
    BertEncoder,
    SentenceEncoder,
    WordPieceTokenizer,
    load_minilm,
)  # fmt: skip
from theta.models.training import gpt_windows, train_gpt
from theta.models.transformer import GPT, CharTokenizer, GPTConfig, lm_loss, next_token_windows

__all__ = [
    "CNN", "GPT", "BertConfig", "BertEncoder", "CharTokenizer", "GPTConfig", "SentenceEncoder",
    "WordPieceTokenizer", "gpt_windows", "lm_loss", "load_minilm", "next_token_windows",
    "train_gpt",
]  # fmt: skip
