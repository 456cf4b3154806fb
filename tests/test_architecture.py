"""Structural tests: the layer rule of DESIGN.md, the public API, randomness, line budgets."""

import ast
import importlib
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "theta"

# DESIGN.md's layers; a module may import from lower layers and from its own layer, as long as
# the packages' imports form no cycle.
# L0 is ordered inside: exception types, then input checks, then what uses those checks.
LAYERS = {
    "errors": 0, "rng": 0.1, "validation": 0.1, "special": 0.1, "params": 0.1, "progress": 0.1,
    "threads": 0.1, "kernels": 0.1,
    "pairwise": 0.15, "metrics": 0.2, "tensorfile": 0.2, "treefile": 0.25,
    "autograd": 1,
    "nn": 2, "losses": 2, "optim": 2, "data": 2,
    "distributions": 2,
    "train": 3, "models": 3, "io": 3,
    "estimators": 4, "rl": 4,
    "tune": 5,
    "plot": 6, "cli": 6.5,  # the command draws with plot
    "__main__": 7,  # the `python -m theta` entry point sits above the command it runs
}  # fmt: skip


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _theta_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("theta.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "theta":
                found += [f"theta.{a.name}" for a in node.names]
            elif node.module.startswith("theta."):
                found.append(node.module)
    return found


def _imported_packages(path: Path) -> set[str]:
    """The other theta packages that ``path`` imports."""
    targets = {imported.split(".")[1] for imported in _theta_imports(path)}
    return targets - {"__version__", _package_of(path)}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_layers_import_only_downward_or_within_their_layer(path):
    if path.name == "__init__.py" and path.parent == SRC:
        return  # the top-level package re-exports the public API of every layer
    package = _package_of(path)
    assert package in LAYERS, f"{package} has no layer in DESIGN.md; add it to LAYERS"
    for target in sorted(_imported_packages(path)):
        assert LAYERS[target] <= LAYERS[package], (
            f"{path.relative_to(SRC)} imports theta.{target}: layer {LAYERS[package]} "
            f"({package}) may only import from its own or lower layers, but {target} is layer "
            f"{LAYERS[target]}."
        )


def _import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (package -> packages it imports) as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    return next(filter(None, (visit(node, []) for node in sorted(graph))), None)


def test_import_cycle_checker_finds_a_cycle_within_a_layer():
    assert _import_cycle({"models": {"train", "nn"}, "train": {"nn"}, "nn": set()}) is None
    graph = {"models": {"nn", "train"}, "train": {"io"}, "io": {"models"}}
    assert _import_cycle(graph) == ["io", "models", "train", "io"]


def test_packages_import_each_other_without_cycles():
    graph: dict[str, set[str]] = {}
    for path in _modules():
        graph.setdefault(_package_of(path), set()).update(_imported_packages(path))
    cycle = _import_cycle(graph)
    assert cycle is None, f"theta's packages import each other in a cycle: {' -> '.join(cycle)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_legacy_global_random(path):
    text = path.read_text()
    for banned in (
        "np.random.seed",
        "np.random.rand(",
        "np.random.randn(",
        "np.random.randint(",
        "np.random.normal(",
        "np.random.uniform(",
        "np.random.choice(",
        "np.random.shuffle(",
        "np.random.permutation(",
    ):
        assert banned not in text, f"{path.relative_to(SRC)} uses global randomness: {banned}"


def _public_packages() -> list[str]:
    names = ["theta"]
    for init in SRC.rglob("__init__.py"):
        rel = init.parent.relative_to(SRC.parent)
        names.append(".".join(rel.parts))
    return sorted(set(names))


@pytest.mark.parametrize("name", _public_packages())
def test_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    for public in getattr(module, "__all__", []):
        assert hasattr(module, public), f"{name}.__all__ lists {public!r}, which does not exist"


def test_no_package_attribute_shadows_a_submodule():
    # `theta.autograd.tensor` was the function, so `import theta.autograd.tensor` gave a function
    for path in _modules():
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):  # __main__ would run the command
            continue
        module = importlib.import_module(".".join(parts))
        parent = importlib.import_module(".".join(parts[:-1]))
        assert getattr(parent, parts[-1]) is module, (
            f"{parent.__name__}.{parts[-1]} is {getattr(parent, parts[-1])!r}, which hides the "
            f"submodule {module.__name__}; rename one of them"
        )


def _code_lines(path: Path) -> int:
    """Lines holding code: no blanks, comments or docstrings (as tinygrad's sz.py counts)."""
    source = path.read_text()
    docstring_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    docstring_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - docstring_lines)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_file_line_budget(path):
    assert _code_lines(path) <= 600, f"{path.relative_to(SRC)} has more than 600 code lines"


def test_autograd_line_budget():
    # __init__.py files only re-export names; the budget measures the engine and its ops
    skip = ("_gradcheck.py", "__init__.py")
    files = [p for p in (SRC / "autograd").rglob("*.py") if p.name not in skip]
    total = sum(_code_lines(p) for p in files)
    # STYLE.md set 1,000; raised to 1,100 on purpose: the foundation issue asks for ~60 ops with
    # NumPy's semantics (axis tuples, batched matmul, every index kind, pad, split) and an
    # error naming the op and shapes for each, and the engine is already table-driven; and to
    # 1,150 for version counters (RELIABILITY 49: in-place checks, setitem, views sharing one
    # version), which PyTorch users expect to raise rather than give a wrong gradient; and to
    # 1,200 for issue #14: Tensor's ~60 methods are defined in the class, one line each (two
    # where the signature is long), instead of a 35-line table bound with setattr, so that IDEs
    # and type checkers see them (+43 lines: 1,140 before, 1,183 after); and to 2,500 for issue
    # #15, the tensor language complete: ~110 more ops with NumPy's names and PyTorch's
    # gradients and conventions, each with its error messages (creation 109 lines, elementwise
    # and activations +190, reductions, scans and sorting +270, gather/scatter, pad modes,
    # movement and einsum +480, Tensor methods +150: 1,183 before, 2,420 after). Convolutions,
    # pooling and normalisation live in nn/, outside this budget.
    assert total < 2500, f"autograd/ has {total} code lines; the budget is 2500"


def test_import_theta_imports_only_the_runtime_dependencies():
    probe = (
        "import sys, theta\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(roots & {'torch', 'sklearn', 'scipy', 'matplotlib', 'gymnasium',"
        " 'dask', 'optuna', 'faiss', 'tokenizers', 'pandas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import theta pulled in optional packages: {out.stdout}"
