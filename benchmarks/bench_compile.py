"""What theta's compiled kernels cost before they run: Numba's compile, cold and cached.

    python benchmarks/bench_compile.py

Each family of ``theta.kernels`` is exercised through the public op that uses it, in a fresh
process with an empty Numba cache (the first run on a machine: compile and write the cache),
then in a second fresh process with that cache (every later run: load), then once more in the
same process (the kernel is ready: the op's own time). ``import theta`` and the chapter's
``theta train`` never import Numba; the section says so, measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One snippet per family: `setup` builds the inputs (untimed), `run` calls the op once.
WORKLOADS = {
    "activations": (
        "x = theta.tensor(np.random.default_rng(0).standard_normal((256, 512)), "
        "dtype=np.float32, requires_grad=True)",
        "y = theta.nn.GELU(approximate='tanh')(x); y.sum().backward(); "
        "theta.nn.GELU()(x.detach())",
    ),
    "normalization": (
        "norm = theta.nn.LayerNorm(128); x = theta.tensor(np.random.default_rng(0)"
        ".standard_normal((256, 128)), dtype=np.float32, requires_grad=True)",
        "norm(x).sum().backward()",
    ),
    "softmax": (
        "q, k, v = (theta.tensor(np.random.default_rng(i).standard_normal((2, 4, 64, 32)), "
        "dtype=np.float32, requires_grad=True) for i in range(3))",
        "theta.nn.scaled_dot_product_attention(q, k, v, "
        "mask=theta.nn.attention_mask(64, causal=True)).sum().backward()",
    ),
    "optim": (
        "layer = theta.nn.Linear(256, 256); opt = theta.optim.AdamW(layer.parameters()); "
        "x = theta.tensor(np.ones((8, 256), np.float32))",
        "layer(x).sum().backward(); opt.step()",
    ),
    "cluster": (
        "X = np.random.default_rng(0).standard_normal((20000, 16))",
        "theta.estimators.KMeans(n_clusters=8, n_init=1, random_state=0).fit(X)",
    ),
}

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import theta
t_import = time.perf_counter() - t0
{setup}
t0 = time.perf_counter(); {run}; first = time.perf_counter() - t0
t0 = time.perf_counter(); {run}; again = time.perf_counter() - t0
print(json.dumps({{"import": t_import, "first": first, "again": again,
                  "numba": "numba" in sys.modules}}))
"""


def _probe(code: str, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "THETA_KERNELS"}
    env |= {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent / "src"), env.get("PYTHONPATH", "")])}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure() -> dict[str, dict[str, float]]:
    """Seconds per family: ``cold`` (empty cache), ``cached`` (a new process, cache written),
    ``ready`` (the same call again in that process)."""
    rows = {}
    for family, (setup, run) in WORKLOADS.items():
        code = _PROBE.format(setup=setup, run=run)
        with tempfile.TemporaryDirectory() as cache:
            cold = _probe(code, cache)
            warm = _probe(code, cache)
        rows[family] = {"cold": cold["first"], "cached": warm["first"], "ready": warm["again"]}
    return rows


def startup() -> dict[str, object]:
    """``import theta`` and the chapter's ``theta train``: seconds, and whether Numba loaded."""
    code = ("import sys, time\nt0 = time.perf_counter()\nimport theta\n"
            "t1 = time.perf_counter()\nfrom theta.cli import main\nimport contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['train'])\n"
            "import json\nprint(json.dumps({'import': t1 - t0, 'first': time.perf_counter() - t1,"
            " 'again': 0.0, 'numba': 'numba' in sys.modules}))")  # fmt: skip
    with tempfile.TemporaryDirectory() as cache:
        return _probe(code, cache)


def markdown(rows: dict[str, dict[str, float]], start: dict[str, object]) -> str:
    lines = [
        "## Compiled kernels: compile and load time",
        "",
        "Seconds for the first call of an op that uses each kernel family, in a fresh process: "
        "with an empty Numba cache (once per machine), with the cache, and the same call again.",
        "",
        "| family | first call, empty cache | first call, cached | ready |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {family} | {r['cold']:.2f} s | {r['cached']:.2f} s | {r['ready'] * 1e3:.1f} ms |"
              for family, r in rows.items()]  # fmt: skip
    lines += [
        "",
        f"`import theta` took {start['import']:.2f} s and the chapter's `theta train` "
        f"{start['first']:.2f} s; Numba {'was' if start['numba'] else 'was not'} imported.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    print(markdown(measure(), startup()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
