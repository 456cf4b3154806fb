"""The differentiable ops, one ``Function`` class each, grouped by what they do to arrays."""
