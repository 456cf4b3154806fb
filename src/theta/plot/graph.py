"""``draw_graph``: the computation graph behind a tensor, drawn as SVG by Graphviz.

micrograd's ``draw_dot`` grown up: tensors with their shapes, dtypes, values and gradients,
ops named like theta's op classes, parameters named like ``named_parameters()``, and module
calls as clusters or, for large models, as one box each. The graph comes from
:func:`~theta.plot.graph_data.computation_graph` (plain data); this module only lays it out,
through the ``graphviz`` package and its ``dot`` program (the optional extra ``graph``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from theta.autograd import Tensor
from theta.nn import Module
from theta.plot.graph_data import ComputationGraph, _extract
from theta.tensorfile import atomic_write_text
from theta.validation import check_param

__all__ = ["GraphSVG", "draw_graph", "render_svg"]

_STYLE = {
    "parameter": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe"},
    "leaf": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f3f4f6"},
    "tensor": {"shape": "box", "style": "rounded"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#fef3c7"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#dcfce7"},
}


class GraphSVG(str):
    """The SVG text of a drawn graph (a ``str``); Jupyter shows it as the picture.

    ``graph`` is the :class:`~theta.plot.graph_data.ComputationGraph` it draws.
    """

    graph: ComputationGraph

    def __new__(cls, svg: str, graph: ComputationGraph) -> GraphSVG:
        self = super().__new__(cls, svg)
        self.graph = graph
        return self

    @property
    def svg(self) -> str:
        """The SVG text as a plain ``str``."""
        return str(self)

    def _repr_svg_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"<GraphSVG: {len(self.graph.nodes)} nodes, {len(self.graph.edges)} edges>"


def draw_graph(
    tensor: Tensor | Callable[..., Tensor],
    *inputs: Any,
    model: Module | None = None,
    path: str | os.PathLike | None = None,
    values: int = 6,
    depth: int | None = None,
    max_nodes: int | None = 200,
) -> GraphSVG:
    """Draw the computation graph behind ``tensor`` as SVG: what ``backward`` will walk.

    Each tensor is a box with its shape and dtype (its values and gradient too when small),
    each op an ellipse named by its op class (``MatMul``, ``Tanh``, ``Sum``), edges run from
    inputs to outputs. Parameters are filled blue and named by their module path
    (``fc1.weight``) when ``model`` is given; other leaves grey, by shape only.

    Parameters
    ----------
    tensor : Tensor, Module or callable
        The tensor to draw (as ``torchviz.make_dot(y)``), or a model to run on ``inputs``
        (as ``torchview.draw_graph(model, x)``): then its module calls are recorded, drawn
        as labelled clusters, and those ``depth`` levels down collapsed into one box each
        (``blocks.0 (TransformerBlock)``). Running it draws on its random generators as any
        forward does (dropout in training mode).
    *inputs : object
        The inputs ``tensor(*inputs)`` is called with, when it is a model.
    model : Module, optional
        Names parameters and buffers by their path in ``model``, and frames the picture: its
        own calls are not drawn as clusters. Defaults to ``tensor`` when that is a Module.
    path : str or path-like, optional
        Also write the SVG there, atomically.
    values : int, default=6
        Show the values and gradients of tensors with at most this many elements (0: none);
        larger tensors show their gradient's norm.
    depth : int, optional
        Module calls this many levels below ``model`` are drawn as one box each, calls above
        them as clusters around their ops (0: every child of the model is a box). By
        default the deepest depth whose picture has at most ``max_nodes`` nodes.
    max_nodes : int or None, default=200
        The most nodes to lay out (Graphviz slows down beyond a few hundred); None: no limit.

    Returns
    -------
    GraphSVG
        The SVG text (a ``str``), which a notebook shows; ``.graph`` holds the nodes, edges
        and clusters drawn.

    Raises
    ------
    TypeError
        If ``tensor`` is neither a Tensor nor callable, or ``inputs`` come with a Tensor.
    ValueError
        If the graph has more than ``max_nodes`` nodes at every depth.
    RuntimeError
        If ``backward`` freed the graph (use ``backward(retain_graph=True)`` to draw it
        with gradients), or Graphviz's ``dot`` program is missing.
    ImportError
        If the ``graphviz`` package is missing: ``pip install 'theta-ml[graph]'``.

    Examples
    --------
    >>> import theta
    >>> w = theta.tensor([0.5, -1.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward(retain_graph=True)  # keep the graph to draw it with gradients
    >>> svg = theta.draw_graph(loss)  # in a notebook, svg shows as the picture
    >>> [node.label[0] for node in svg.graph.nodes]
    ['(2,) float32', 'Mul', '(2,) float32', 'Sum', '() float32']
    >>> svg.graph.nodes[0].label  # w: its values, and its gradient 2 w
    ('(2,) float32', '[0.5, -1]', 'grad [1, -2]')
    >>> svg.count('class="node"'), svg.count('class="edge"')  # w goes into Mul twice
    (5, 5)
    """
    check_param(path, "path", [str, os.PathLike, None], caller="draw_graph")
    graph = _extract(tensor, inputs, model, values, depth, max_nodes, "draw_graph")
    svg = GraphSVG(render_svg(graph), graph)
    if path is not None:
        atomic_write_text(path, svg)
    return svg


def render_svg(graph: ComputationGraph) -> str:
    """Lay ``graph`` out top to bottom with Graphviz's ``dot`` and return the SVG text.

    Examples
    --------
    >>> import theta
    >>> from theta.plot import computation_graph
    >>> x = theta.tensor(1.0, requires_grad=True)
    >>> render_svg(computation_graph(x * 2.0)).count('class="node"')  # x, 2, Mul, x * 2
    4
    """
    graphviz = _require_graphviz()
    dot = graphviz.Digraph(
        "computation_graph",
        graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "10"},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.08,0.03"},
        edge_attr={"arrowsize": "0.6"},
    )
    members, children = defaultdict(list), defaultdict(list)
    for node in graph.nodes:
        members[node.cluster].append(node)
    for cluster in graph.clusters:
        children[cluster.parent].append(cluster)

    def fill(subgraph: Any, cluster: str | None) -> None:
        for node in members[cluster]:
            bold = {"penwidth": "2"} if node.id == graph.output else {}
            subgraph.node(node.id, _dot_label(node.label), **_STYLE[node.kind], **bold)
        for child in children[cluster]:
            with subgraph.subgraph(name=f"cluster_{child.id}") as inner:
                inner.attr(label=_dot_label((child.label,)), style="rounded,dashed")
                fill(inner, child.id)

    fill(dot, None)
    for source, target in graph.edges:
        dot.edge(source, target)
    try:
        return dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "draw_graph needs Graphviz's dot program on the PATH: install the system package "
            "(apt-get install graphviz, brew install graphviz, conda install graphviz)."
        ) from None


def _dot_label(lines: tuple[str, ...]) -> str:
    """Lines joined by DOT's line break; a backslash in the text stays a backslash."""
    return "\\n".join(line.replace("\\", "\\\\") for line in lines)


def _require_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "draw_graph needs the graphviz package: pip install 'theta-ml[graph]' (and the "
            "Graphviz system package, e.g. apt-get install graphviz)"
        ) from None
    return graphviz
