"""The computation graph behind a tensor, as plain data: what :func:`draw_graph` draws.

Walking ``tensor._ctx.parents`` back to the leaves gives the graph: a node per tensor (shape,
dtype, small values, gradients) and per op (its ``Function`` class: ``MatMul``, ``Tanh``),
edges in the forward direction. Module calls recorded while a model runs add structure: a call
drawn as a cluster around its ops, or collapsed into one box, so a GPT's blocks can be seen
one box each. Recording needs one check per ``Module.__call__`` (``Module._call_hook``) and
nothing per op, so models run at full speed when nothing is drawn.

A module call's region is what it computed: the tensors between its inputs and its outputs,
its parameters included. What an earlier call returned counts as an input even when it arrives
by attribute; what is also used outside the call (a tied embedding matrix, a mask built once
for every block) stays outside, visible, with an edge into the call.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theta.autograd import Tensor, enable_grad
from theta.nn import Module, Parameter
from theta.validation import Interval, check_param

__all__ = ["Cluster", "ComputationGraph", "ModuleCall", "Node", "computation_graph"]


@dataclass(frozen=True)
class Node:
    """One node: a tensor, an op, or a module call collapsed into a box.

    ``kind`` is ``"parameter"``, ``"leaf"`` (a tensor made by the user), ``"tensor"`` (made by
    an op), ``"op"`` or ``"module"``; ``label`` holds its lines of text; ``cluster`` is the id
    of the cluster drawn around it; ``obj`` is what it stands for (the ``Tensor``, the op's
    ``Context`` or the :class:`ModuleCall`).
    """

    id: str
    kind: str
    label: tuple[str, ...]
    cluster: str | None = None
    obj: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Cluster:
    """A module call drawn as a labelled frame around its nodes, inside ``parent``'s."""

    id: str
    label: str
    parent: str | None


@dataclass(frozen=True)
class ComputationGraph:
    """Nodes, edges ``(source id, target id)`` in the forward direction, and clusters.

    An op that takes one tensor twice (``x * x``) has two edges from it. ``output`` is the id
    of the tensor whose graph this is.
    """

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    clusters: tuple[Cluster, ...]
    output: str


@dataclass(eq=False)
class ModuleCall:
    """One call of a module: the tensors it was given and returned, and the call around it.

    ``after`` counts the calls that had returned when this one began; ``rank`` is its place
    among returns (so a tensor returned by a call of lower rank than ``after`` existed before).
    """

    module: Module
    inputs: list[Tensor]
    parent: ModuleCall | None
    after: int
    outputs: list[Tensor] = field(default_factory=list)
    rank: int = -1


class _Recorder:
    """``Module._call_hook`` while recording: runs ``forward`` and notes the call."""

    def __init__(self) -> None:
        self.calls: list[ModuleCall] = []
        self.stack: list[ModuleCall] = []
        self.returned = 0

    def __call__(self, module: Module, args: tuple, kwargs: dict) -> Any:
        parent = self.stack[-1] if self.stack else None
        call = ModuleCall(module, _tensors_in((args, kwargs)), parent, self.returned)
        self.calls.append(call)
        self.stack.append(call)
        try:
            out = module.forward(*args, **kwargs)
        finally:
            self.stack.pop()
        call.outputs, call.rank = _tensors_in(out), self.returned
        self.returned += 1
        return out


@contextmanager
def record_calls() -> Iterator[list[ModuleCall]]:
    """Within the block, every module call is appended to the yielded list, outer first.

    The hook is process-wide: calls that other threads make meanwhile are recorded too.
    """
    recorder = _Recorder()
    previous, Module._call_hook = Module._call_hook, recorder
    try:
        yield recorder.calls
    finally:
        Module._call_hook = previous


def _tensors_in(value: Any) -> list[Tensor]:
    """The tensors in ``value`` and in its nested tuples, lists and dicts, once each."""
    found: dict[int, Tensor] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.setdefault(id(item), item)
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return list(found.values())


class _Walk:
    """The whole graph behind ``root``: tensors parents first, each one's inputs and users."""

    def __init__(self, root: Tensor, caller: str) -> None:
        self.order: list[Tensor] = []
        self.parents: dict[int, tuple[Tensor, ...]] = {}
        self.users: dict[int, set[int]] = {id(root): set()}
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        while stack:  # iterative depth-first post-order: a topological order, no recursion
            t, done = stack.pop()
            if done:
                self.order.append(t)
                continue
            if id(t) in visited:
                continue
            visited.add(id(t))
            stack.append((t, True))
            ctx = t._ctx
            if ctx is None:
                continue
            if ctx.parents is None:
                raise RuntimeError(
                    f"{caller}: the graph behind this tensor was freed by backward() (at its "
                    f"{ctx.fn.__name__} op); call backward(retain_graph=True) to draw the "
                    "graph with its gradients, or draw it before backward."
                )
            self.parents[id(t)] = ctx.parents
            for p in reversed(ctx.parents):
                self.users.setdefault(id(p), set()).add(id(t))
                if id(p) not in visited:
                    stack.append((p, False))
        self.index = {id(t): i for i, t in enumerate(self.order)}

    def region(self, call: ModuleCall, rank: dict[int, int]) -> tuple[set[int], list[int]] | None:
        """The tensors ``call`` computed (ids) and its outputs; None if it computed nothing.

        ``rank`` maps a tensor to the rank of the first call that returned it: what a call
        returned before this one began is one of this call's inputs even if not passed in.
        """
        ins = {id(t) for t in call.inputs}
        after = call.after

        def made_here(k: int) -> bool:
            return k not in ins and rank.get(k, after) >= after

        outs = [id(t) for t in call.outputs if id(t) in self.parents and made_here(id(t))]
        if not outs:
            return None  # an identity (Dropout in eval mode) or a call outside this graph
        region: set[int] = set()
        stack = list(outs)
        while stack:
            k = stack.pop()
            if k not in region and made_here(k):
                region.add(k)
                stack.extend(id(p) for p in self.parents.get(k, ()))
        keep = set(outs)
        # a tensor also used outside the call stays outside, and so does all it came from
        bad = [k for k in region if k not in keep and not self.users[k] <= region]
        while bad:
            k = bad.pop()
            if k in region:
                region.discard(k)
                bad.extend(id(p) for p in self.parents.get(k, ()) if id(p) not in keep)
        return region, outs


def computation_graph(
    tensor: Tensor | Callable[..., Tensor],
    *inputs: Any,
    model: Module | None = None,
    values: int = 6,
    depth: int | None = None,
    max_nodes: int | None = 200,
) -> ComputationGraph:
    """The graph that :func:`draw_graph` draws, as plain data (see its parameters).

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([1.0, 2.0], requires_grad=True)
    >>> g = computation_graph((x * x).sum())
    >>> [n.label[0] for n in g.nodes]
    ['(2,) float32', 'Mul', '(2,) float32', 'Sum', '() float32']
    >>> g.edges
    (('t0', 'op1'), ('t0', 'op1'), ('op1', 't1'), ('t1', 'op2'), ('op2', 't2'))
    """
    return _extract(tensor, inputs, model, values, depth, max_nodes, "computation_graph")


def _extract(tensor: Any, inputs: tuple, model: Module | None, values: int, depth: int | None,
             max_nodes: int | None, caller: str) -> ComputationGraph:  # fmt: skip
    """Check the arguments, run ``tensor(*inputs)`` if it is a callable, and build the graph."""
    check_param(tensor, "tensor", [Tensor, "callable"], caller=caller)
    check_param(model, "model", [Module, None], caller=caller)
    check_param(values, "values", Interval(numbers.Integral, 0, None), caller=caller)
    check_param(depth, "depth", [Interval(numbers.Integral, 0, None), None], caller=caller)
    check_param(max_nodes, "max_nodes", [Interval(numbers.Integral, 1, None), None], caller=caller)
    calls: list[ModuleCall] = []
    if isinstance(tensor, Tensor):
        if inputs:
            raise TypeError(
                f"{caller}: inputs are run through a Module or callable given as 'tensor'; got "
                f"a Tensor and {len(inputs)} input(s). Pass the model: {caller}(model, x)."
            )
    else:
        model = tensor if model is None and isinstance(tensor, Module) else model
        with record_calls() as calls, enable_grad():
            out = tensor(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{caller}: tensor(*inputs) must return one Tensor to draw (got "
                f"{type(out).__name__}); wrap it, e.g. lambda x: model(x)[0]."
            )
        tensor = out
    walk = _Walk(tensor, caller)
    names = {}
    if model is not None:
        names = {id(t): n for n, t in [*model.named_parameters(), *model.named_buffers()]}
    paths = {id(m): n for n, m in model.named_modules()} if model is not None else {}
    levels = _levels(calls, model)
    deepest = max(levels.values(), default=-1)
    tried = [depth] if depth is not None else [deepest + 1, *range(deepest, -1, -1)]
    builder = _Builder(walk, calls, levels, names, paths, values)
    for d in tried:
        n_nodes = builder.count(d)
        if max_nodes is None or n_nodes <= max_nodes:
            return builder.build(d)
    hint = (
        "draw the model on its inputs, draw_graph(model, x), to collapse module calls into boxes"
        if not calls else "lower depth" if depth else "draw a smaller part of the model"
    )
    raise ValueError(
        f"{caller}: the graph has {n_nodes} nodes, more than max_nodes={max_nodes}; "
        f"{hint}, or raise max_nodes (None draws any size)."
    )


def _levels(calls: list[ModuleCall], model: Module | None) -> dict[int, int]:
    """Each call's nesting level (index into ``calls`` -> level): calls of ``model`` itself
    frame the picture and are not counted, so its children are level 0."""
    levels: dict[int, int] = {}
    level_of: dict[int, int] = {}  # id(call) -> level, for the parents
    for i, call in enumerate(calls):
        above = level_of[id(call.parent)] if call.parent is not None else -1
        level = above if call.module is model else above + 1
        level_of[id(call)] = level
        if call.module is not model:
            levels[i] = level
    return levels


class _Builder:
    """Builds the :class:`ComputationGraph` of one walk at one depth."""

    def __init__(self, walk: _Walk, calls: list[ModuleCall], levels: dict[int, int],
                 names: dict[int, str], paths: dict[int, str], values: int) -> None:  # fmt: skip
        self.walk, self.calls, self.levels = walk, calls, levels
        self.names, self.paths, self.values = names, paths, values
        self.number = {id(call): i for i, call in enumerate(calls)}
        rank: dict[int, int] = {}
        for call in sorted(calls, key=lambda c: c.rank):
            for t in call.outputs:
                rank.setdefault(id(t), call.rank)
        self.regions = {i: walk.region(calls[i], rank) for i in levels}  # the same at any depth

    def _boxes(self, depth: int) -> tuple[dict, set[int], set[int]]:
        """The calls boxed at ``depth``, the tensors whose ops they hide, the tensors hidden."""
        boxes = {
            i: r for i, r in self.regions.items() if r is not None and self.levels[i] == depth
        }  # fmt: skip
        boxed = {k for region, _ in boxes.values() for k in region}
        return boxes, boxed, boxed - {k for _, outs in boxes.values() for k in outs}

    def count(self, depth: int) -> int:
        """How many nodes ``build(depth)`` has, without making their labels."""
        boxes, boxed, hidden = self._boxes(depth)
        ops = len(self.walk.parents) - sum(k in self.walk.parents for k in boxed)
        return len(self.walk.order) - len(hidden) + ops + len(boxes)

    def build(self, depth: int) -> ComputationGraph:
        """Calls at ``depth`` become boxes, calls above it clusters; see ``draw_graph``."""
        walk, levels, regions = self.walk, self.levels, self.regions
        boxes, boxed, hidden = self._boxes(depth)
        framed = [i for i, r in regions.items() if r is not None and levels[i] < depth]
        framed.sort(key=levels.__getitem__)
        frame_of: dict[int, str] = {}  # tensor id -> its innermost cluster: deeper ones win
        for i in framed:
            frame_of.update(dict.fromkeys(regions[i][0], f"c{i}"))
        in_frame = set(framed)
        nodes, edges = [], []
        for n, t in enumerate(walk.order):
            k = id(t)
            if k in hidden:
                continue
            if t._ctx is not None and k not in boxed:
                nodes.append(Node(f"op{n}", "op", _op_label(t._ctx), frame_of.get(k), t._ctx))
                edges += [(f"t{walk.index[id(p)]}", f"op{n}") for p in walk.parents[k]]
                edges.append((f"op{n}", f"t{n}"))
            nodes.append(Node(f"t{n}", self._kind(t), self._tensor_label(t), frame_of.get(k), t))
        for i, (region, outs) in boxes.items():
            box, cluster = f"m{i}", self._cluster_of(i, in_frame)
            nodes.append(Node(box, "module", self._call_label(i), cluster, self.calls[i]))
            sources = {
                walk.index[id(p)] for k in region for p in walk.parents.get(k, ())
                if id(p) not in region and id(p) not in hidden  # hidden: only if regions overlap
            }  # fmt: skip
            edges += [(f"t{s}", box) for s in sorted(sources)]
            edges += [(box, f"t{walk.index[k]}") for k in outs]
        clusters = tuple(
            Cluster(f"c{i}", self._call_label(i)[0], self._cluster_of(i, in_frame)) for i in framed
        )
        return ComputationGraph(tuple(nodes), tuple(edges), clusters, f"t{len(walk.order) - 1}")

    def _cluster_of(self, i: int, framed: Collection[int]) -> str | None:
        """The cluster of the nearest call around call ``i`` that is drawn as one."""
        call = self.calls[i].parent
        while call is not None and self.number[id(call)] not in framed:
            call = call.parent
        return None if call is None else f"c{self.number[id(call)]}"

    def _call_label(self, i: int) -> tuple[str, ...]:
        module = self.calls[i].module
        path = self.paths.get(id(module))
        lines = [f"{path} ({type(module).__name__})" if path else type(module).__name__]
        n = module.n_parameters()
        return (*lines, f"{n:,} parameters") if n else tuple(lines)

    def _kind(self, t: Tensor) -> str:
        if t._ctx is not None:
            return "tensor"
        return "parameter" if isinstance(t, Parameter) else "leaf"

    def _tensor_label(self, t: Tensor) -> tuple[str, ...]:
        lines = [self.names[id(t)]] if id(t) in self.names else []
        lines.append(f"{t.shape} {t.dtype}")
        if t.size <= self.values:
            lines += _array_lines(t.data, "")
        if t.grad is not None:
            if t.size <= self.values:
                lines += _array_lines(t.grad, "grad ")
            else:
                lines.append(f"grad norm {float(np.linalg.norm(t.grad)):.4g}")
        return tuple(lines)


def _array_lines(array: np.ndarray, prefix: str) -> list[str]:
    """A small array as text, 4 significant digits, one line per row."""
    text = np.array2string(
        np.asarray(array), separator=", ", max_line_width=60,
        formatter={"float_kind": lambda v: f"{v:.4g}"},
    )  # fmt: skip
    return (prefix + text).splitlines()


def _op_label(ctx: Any) -> tuple[str, ...]:
    """The op's class name, then its short scalar arguments (``axes=(1,)``)."""
    shown = [
        f"{key}={value!r}" for key, value in ctx.kwargs.items()
        if isinstance(value, numbers.Number | str | tuple) and len(repr(value)) <= 24
    ]  # fmt: skip
    return (ctx.fn.__name__, ", ".join(shown)) if shown else (ctx.fn.__name__,)
