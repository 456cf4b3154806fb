"""``theta generate``: continue a prompt with a GPT from a run folder, in a fresh process.

The run folder is the one ``theta train --model gpt`` writes: the model (``model/``) and its
character vocabulary (``tokenizer.json``). Sampling is the forward pass alone, repeated: each
new character is drawn from the model's next-character distribution and appended.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from theta.cli.argtypes import count, positive_float, positive_int
from theta.cli.config import ConfigError
from theta.cli.runs import load_gpt_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="sample text from a GPT run",
        description="Continue PROMPT with characters sampled from the GPT in the run folder RUN "
        "(written by theta train --model gpt) and print the prompt with its continuation.",
        epilog="examples:\n  theta train --model gpt --out runs/shakespeare\n"
        "  theta generate runs/shakespeare --prompt 'ROMEO:' --max-new-tokens 300\n"
        "  theta generate runs/shakespeare --prompt 'To be' --temperature 0.8 --top-k 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="run folder of theta train --model gpt")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    parser.add_argument("--max-new-tokens", type=count, default=200, metavar="N",
                        help="characters to sample (default 200)")  # fmt: skip
    parser.add_argument("--temperature", type=positive_float, default=1.0, metavar="T",
                        help="below 1 sharpens the distribution, above 1 flattens it")  # fmt: skip
    parser.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                        help="sample only among the K likeliest characters "
                        "(default: all of them)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="the same seed gives the same text (default 0)")  # fmt: skip
    parser.add_argument("--check-finite", action="store_true",
                        help="refuse NaN or infinite weights (default: warn)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    if not args.prompt:
        raise ConfigError("argument --prompt: must not be empty; the model continues a text")
    model, tokenizer = load_gpt_run(args.run_dir, check_finite=args.check_finite)
    try:
        prompt = tokenizer.encode(args.prompt)
    except ValueError as exc:
        raise ConfigError(f"argument --prompt: {exc}") from None
    ids = model.generate(prompt, args.max_new_tokens, temperature=args.temperature,
                         top_k=args.top_k, seed=args.seed)  # fmt: skip
    print(tokenizer.decode(ids), file=out)
    return 0
