"""``theta train``: with no arguments, the chapter's straight line learned by gradient descent."""

from __future__ import annotations

import argparse
from typing import TextIO

import numpy as np

import theta


def chapter_example(out: TextIO) -> tuple[float, float]:
    """Fit ``pred = w*x + b`` to ``y = 2x + 1`` exactly as the chapter does; return ``(w, b)``.

    The loss is printed as measured before the step's update, ``w`` and ``b`` after it, which
    is the chapter's convention; float64 keeps its printed digits.
    """
    X = theta.tensor(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
    y = 2.0 * X + 1.0  # the truth we're trying to recover
    w = theta.tensor(0.0, dtype=np.float64, requires_grad=True)  # parameters: start at zero
    b = theta.tensor(0.0, dtype=np.float64, requires_grad=True)
    lr = 0.05  # learning rate (a hyperparameter)

    for step in range(1000):
        pred = w * X + b  # 1. forward
        loss = ((pred - y) ** 2).mean()  # 2. loss
        loss.backward()  # 3. gradient
        with theta.no_grad():  # 4. update
            for p in (w, b):
                p -= lr * p.grad
                p.grad = None
        if step in (0, 200, 999):
            print(
                f"step {step:4d}  loss {loss.item():8.4f}  w {w.item():.4f}  b {b.item():.4f}",
                file=out,
            )
    print("learned:", round(w.item(), 3), round(b.item(), 3), file=out)
    with theta.no_grad():  # inference: the forward pass alone
        prediction = (w * 10.0 + b).item()
    print("prediction:", round(prediction, 3), file=out)  # rounded like "learned"
    return w.item(), b.item()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (default: the chapter's line y = 2x + 1)",
        description="Train a model. With no arguments, fit pred = w*x + b to y = 2x + 1 by "
        "gradient descent, as in the chapter, printing the loss and parameters.",
        epilog="example:\n  theta train",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    chapter_example(out)
    return 0
