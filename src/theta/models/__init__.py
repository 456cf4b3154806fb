"""Whole models built from ``theta.nn``: a GPT language model."""

from theta.models.transformer import GPT, CharTokenizer, GPTConfig, lm_loss, next_token_windows

__all__ = ["GPT", "CharTokenizer", "GPTConfig", "lm_loss", "next_token_windows"]
