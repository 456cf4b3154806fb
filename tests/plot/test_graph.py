"""draw_graph: nodes and edges equal the autograd graph's, the SVG draws exactly those."""

import os
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

import theta
from theta.models import GPT, GPTConfig
from theta.nn import Identity, Linear, Module, Parameter
from theta.plot import computation_graph, draw_graph

SVG = "{http://www.w3.org/2000/svg}"


def autograd_graph(root):
    """The oracle: tensors, ops and forward edges found by walking ``_ctx.parents`` directly.

    Objects are named by ``id``; an edge is (input tensor -> op) once per use, (op -> output).
    """
    tensors, ops, edges, stack = set(), set(), Counter(), [root]
    while stack:
        t = stack.pop()
        if id(t) in tensors:
            continue
        tensors.add(id(t))
        if t._ctx is not None:
            ops.add(id(t._ctx))
            edges[(id(t._ctx), id(t))] += 1
            for p in t._ctx.parents:
                edges[(id(p), id(t._ctx))] += 1
                stack.append(p)
    return tensors, ops, edges


def drawn(graph):
    """The same three things read from a ComputationGraph, through each node's object."""
    obj = {n.id: id(n.obj) for n in graph.nodes}
    tensors = {id(n.obj) for n in graph.nodes if n.kind in ("parameter", "leaf", "tensor")}
    ops = {id(n.obj) for n in graph.nodes if n.kind == "op"}
    return tensors, ops, Counter((obj[a], obj[b]) for a, b in graph.edges)


def svg_parts(svg):
    """Node titles -> their text lines, and the edge titles, from the SVG itself."""
    root = ET.fromstring(svg.encode())
    groups = list(root.iter(f"{SVG}g"))
    nodes = {
        g.find(f"{SVG}title").text: [t.text for t in g.iter(f"{SVG}text")]
        for g in groups if g.get("class") == "node"
    }  # fmt: skip
    edges = Counter(g.find(f"{SVG}title").text for g in groups if g.get("class") == "edge")
    return nodes, edges


def check_against_autograd(svg, root):
    graph = svg.graph
    assert drawn(graph) == autograd_graph(root)
    nodes, edges = svg_parts(svg)
    assert nodes == {n.id: list(n.label) for n in graph.nodes}
    assert edges == Counter(f"{a}->{b}" for a, b in graph.edges)


class TwoLayer(Module):
    def __init__(self):
        self.fc1 = Linear(3, 2, rng=0)
        self.fc2 = Linear(2, 1, rng=1)

    def forward(self, x):
        return self.fc2(theta.tanh(self.fc1(x)))


class Block(Module):
    def __init__(self, seed):
        self.lin = Linear(2, 2, rng=seed)

    def forward(self, x):
        return x + theta.tanh(self.lin(x))


class Stack(Module):
    """Three identical blocks, an Identity between them, and a scale shared with the head."""

    def __init__(self):
        self.blocks = [Block(0), Block(1), Block(2)]
        self.skip = Identity()
        self.scale = Parameter(np.full(2, 0.5, np.float32))

    def forward(self, x):
        x = self.skip(x * self.scale)
        for block in self.blocks:
            x = block(x)
        return (x * self.scale).sum()


def test_tanh_of_an_affine_map_is_drawn_node_for_node_and_edge_for_edge():
    w = theta.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10, requires_grad=True)
    x = theta.tensor(np.ones(3, np.float32))
    b = theta.tensor(np.zeros(2, np.float32), requires_grad=True)
    y = theta.tanh(w @ x + b).sum()
    svg = draw_graph(y)
    check_against_autograd(svg, y)
    nodes, _ = svg_parts(svg)
    ops = [n.label[0] for n in svg.graph.nodes if n.kind == "op"]
    assert ops == ["MatMul", "Add", "Tanh", "Sum"]
    assert ["(2, 3) float32", "[[0, 0.1, 0.2],", " [0.3, 0.4, 0.5]]"] in nodes.values()
    x_node = next(n for n in svg.graph.nodes if n.obj is x)
    assert x_node.kind == "leaf" and x_node.label == ("(3,) float32", "[1, 1, 1]")
    assert svg.graph.output == next(n.id for n in svg.graph.nodes if n.obj is y)


def test_a_tensor_used_twice_has_one_node_and_an_edge_per_use():
    x = theta.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    svg = draw_graph(y)
    check_against_autograd(svg, y)
    label = {n.id: n.label[0] for n in svg.graph.nodes}
    x_id = next(n.id for n in svg.graph.nodes if n.obj is x)
    assert Counter(label[b] for a, b in svg.graph.edges if a == x_id) == {"Mul": 2, "Add": 1}
    assert sum(n.obj is x for n in svg.graph.nodes) == 1


def test_a_gpt_is_one_box_per_block_and_its_tied_embedding_stays_in_view():
    model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=2, n_heads=1, n_embd=4), rng=0)
    graph = computation_graph(model, np.array([[1, 2]]), depth=0)
    label = {n.id: n.label[0] for n in graph.nodes}
    assert [label[n.id] for n in graph.nodes if n.kind == "module"] == [
        "wte (Embedding)", "wpe (Embedding)", "blocks.0 (TransformerBlock)",
        "blocks.1 (TransformerBlock)", "ln_f (LayerNorm)",
    ]  # fmt: skip
    assert [label[n.id] for n in graph.nodes if n.kind == "parameter"] == ["wte.weight"]
    wte = next(n.id for n in graph.nodes if n.obj is model.wte.weight)
    assert sorted(label[b] for a, b in graph.edges if a == wte) == ["Linear", "wte (Embedding)"]
    assert [label[n.id] for n in graph.nodes if n.kind == "op"] == ["Add", "Linear"]


def test_parameters_are_named_by_their_path_in_the_model():
    net = TwoLayer()
    x = theta.tensor(np.ones((4, 3), np.float32))
    y = net(x).mean()
    svg = draw_graph(y, model=net, values=4)  # the (2, 3) weight is too big to show values
    check_against_autograd(svg, y)
    named = {n.label[0]: n.obj for n in svg.graph.nodes if n.kind == "parameter"}
    assert named == dict(net.named_parameters())
    nodes, _ = svg_parts(svg)
    assert ["fc1.weight", "(2, 3) float32"] in nodes.values()
    assert ["fc2.bias", "(1,) float32", f"[{net.fc2.bias.data[0]:.4g}]"] in nodes.values()
    unnamed = draw_graph(y, values=4).graph
    assert [n.label for n in unnamed.nodes if n.obj is net.fc1.weight] == [("(2, 3) float32",)]


def test_values_and_gradients_after_backward_with_the_graph_kept():
    w = theta.tensor([1.0, -2.0], requires_grad=True)
    c = theta.tensor([3.0, 0.5])  # a leaf that needs no gradient
    loss = (w * w * c).sum()
    loss.backward(retain_graph=True)  # d/dw sum(c w^2) = 2 c w = [6, -2]
    svg = draw_graph(loss)
    check_against_autograd(svg, loss)
    labels = {id(n.obj): n.label for n in svg.graph.nodes}
    assert labels[id(w)] == ("(2,) float32", "[1, -2]", "grad [6, -2]")
    assert labels[id(c)] == ("(2,) float32", "[3, 0.5]")
    assert labels[id(loss)] == ("() float32", "5")
    assert computation_graph(loss, values=0).nodes[0].label == ("(2,) float32", "grad norm 6.325")


def test_a_freed_graph_and_a_graph_made_under_no_grad():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
        draw_graph(loss)
    with theta.no_grad():
        y = (w * 3.0).sum()
    graph = draw_graph(y).graph
    assert [(n.kind, n.label) for n in graph.nodes] == [("leaf", ("() float32", "9"))]
    assert graph.edges == ()


def readable(graph, x):
    """Edges by name: ops and boxes by label (``Mul#2``: the second Mul), parameters by name,
    other leaves by value, the rest by what made them."""
    name, seen = {}, Counter()
    for n in graph.nodes:
        if n.kind in ("op", "module"):
            seen[n.label[0]] += 1
            name[n.id] = n.label[0] + (f"#{seen[n.label[0]]}" if n.kind == "op" else "")
        elif n.kind == "parameter":
            name[n.id] = n.label[0]
        elif n.kind == "leaf":
            name[n.id] = "x" if n.obj is x else f"constant {n.label[-1]}"
    for a, b in graph.edges:
        if b not in name:
            name[b] = f"out {name[a]}"
    return Counter((name[a], name[b]) for a, b in graph.edges)


def test_repeated_blocks_collapse_into_one_box_per_call():
    model, x = Stack(), theta.tensor(np.ones((1, 2), np.float32))
    graph = computation_graph(model, x, depth=0)
    boxes = [n for n in graph.nodes if n.kind == "module"]
    assert [n.label for n in boxes] == [(f"blocks.{i} (Block)", "6 parameters") for i in range(3)]
    assert [n.obj.module for n in boxes] == model.blocks
    # no op of the blocks is left, the Identity made nothing, and the shared scale is one node
    assert readable(graph, x) == Counter([
        ("x", "Mul#1"), ("scale", "Mul#1"), ("Mul#1", "out Mul#1"),
        ("out Mul#1", "blocks.0 (Block)"), ("blocks.0 (Block)", "out blocks.0 (Block)"),
        ("out blocks.0 (Block)", "blocks.1 (Block)"), ("blocks.1 (Block)", "out blocks.1 (Block)"),
        ("out blocks.1 (Block)", "blocks.2 (Block)"), ("blocks.2 (Block)", "out blocks.2 (Block)"),
        ("out blocks.2 (Block)", "Mul#2"), ("scale", "Mul#2"), ("Mul#2", "out Mul#2"),
        ("out Mul#2", "Sum#1"), ("Sum#1", "out Sum#1"),
    ])  # fmt: skip
    svg = draw_graph(model, x, depth=0)
    nodes, edges = svg_parts(svg)
    assert nodes == {n.id: list(n.label) for n in svg.graph.nodes}
    assert edges == Counter(f"{a}->{b}" for a, b in svg.graph.edges)
    assert ["blocks.1 (Block)", "6 parameters"] in nodes.values()


class AddStored(Module):
    def forward(self, x):
        return x + self.stored


class PassesByAttribute(Module):
    """``a``'s output reaches ``b`` through an attribute, not as an argument."""

    def __init__(self):
        self.a = Linear(2, 2, rng=0)
        self.b = AddStored()

    def forward(self, x):
        self.b.stored = self.a(x)
        return self.b(x * 2.0)


def test_a_box_does_not_swallow_what_an_earlier_call_returned():
    model = PassesByAttribute()
    x = theta.tensor(np.ones((1, 2), np.float32), requires_grad=True)
    graph = computation_graph(model, x, depth=0)
    assert readable(graph, x) == Counter([
        ("x", "a (Linear)"), ("a (Linear)", "out a (Linear)"),
        ("x", "Mul#1"), ("constant 2", "Mul#1"), ("Mul#1", "out Mul#1"),
        ("out Mul#1", "b (AddStored)"), ("out a (Linear)", "b (AddStored)"),
        ("b (AddStored)", "out b (AddStored)"),
    ])  # fmt: skip
    nodes, edges = svg_parts(draw_graph(model, x, depth=0))
    assert len(nodes) == len(graph.nodes) and sum(edges.values()) == len(graph.edges)


def test_expanded_blocks_are_clusters_around_their_ops():
    model, x = Stack(), theta.tensor(np.ones((1, 2), np.float32))
    graph = computation_graph(model, x, depth=1)  # each Linear is a box inside its block
    assert [c.label for c in graph.clusters] == [f"blocks.{i} (Block)" for i in range(3)]
    assert {c.parent for c in graph.clusters} == {None}
    boxes = [n for n in graph.nodes if n.kind == "module"]
    assert [(n.label[0], n.cluster) for n in boxes] == [
        (f"blocks.{i}.lin (Linear)", c.id) for i, c in enumerate(graph.clusters)
    ]
    ops = [(n.label[0], n.cluster) for n in graph.nodes if n.kind == "op"]
    assert ops == [("Mul", None)] + [
        (op, c.id) for c in graph.clusters for op in ("Tanh", "Add")
    ] + [("Mul", None), ("Sum", None)]
    full = computation_graph(model, x)  # small enough: every module call is a cluster
    output = next(n.obj for n in full.nodes if n.id == full.output)
    assert drawn(full) == autograd_graph(output)
    assert len(full.clusters) == 6 and not any(n.kind == "module" for n in full.nodes)
    assert Counter(c.parent is None for c in full.clusters) == {True: 3, False: 3}
    root = ET.fromstring(draw_graph(model, x, depth=1).encode())
    assert sum(g.get("class") == "cluster" for g in root.iter(f"{SVG}g")) == 3


def test_a_large_graph_collapses_to_fit_max_nodes_or_says_how_to():
    model, x = Stack(), theta.tensor(np.ones((1, 2), np.float32))
    sizes = {d: len(computation_graph(model, x, depth=d).nodes) for d in (0, 1, 2)}
    assert sizes[0] < sizes[1] < sizes[2]
    for d, size in sizes.items():
        assert len(computation_graph(model, x, depth=d, max_nodes=size).nodes) == size
        with pytest.raises(ValueError, match=f"has {size} nodes, more than max_nodes={size - 1}"):
            computation_graph(model, x, depth=d, max_nodes=size - 1)
    # by default, the deepest depth that fits
    assert len(computation_graph(model, x, max_nodes=sizes[1]).nodes) == sizes[1]
    with pytest.raises(ValueError, match=r"has \d+ nodes, more than max_nodes=5"):
        computation_graph(model, x, max_nodes=5)
    y = model(x)
    with pytest.raises(ValueError, match=r"draw_graph\(model, x\)"):
        draw_graph(y, max_nodes=5)


def test_path_writes_the_svg_and_a_notebook_shows_it(tmp_path):
    x = theta.tensor([1.0, 2.0], requires_grad=True)
    target = tmp_path / "graph.svg"
    svg = draw_graph((x * 2.0).sum(), path=target)
    assert target.read_text(encoding="utf-8") == svg
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]
    assert svg._repr_svg_() == svg.svg == str(svg) and type(svg.svg) is str
    assert repr(svg) == "<GraphSVG: 6 nodes, 5 edges>"
    ET.fromstring(svg._repr_svg_().encode())  # well-formed


def test_bad_arguments_raise_before_anything_runs():
    calls = []
    net = TwoLayer()
    with pytest.raises(TypeError, match=r"'tensor' parameter of draw_graph must be .*Tensor"):
        draw_graph([1.0, 2.0])
    with pytest.raises(TypeError, match="got a Tensor and 1 input"):
        draw_graph(theta.tensor(1.0), theta.tensor(2.0))
    with pytest.raises(TypeError, match="must return one Tensor"):
        draw_graph(lambda: (calls.append(1), theta.tensor(1.0)))
    with pytest.raises(ValueError, match="'values' parameter"):
        draw_graph(lambda: calls.append(2), values=-1)
    with pytest.raises(TypeError, match="'model' parameter"):
        draw_graph(theta.tensor(1.0), model="net")
    with pytest.raises(TypeError, match="'path' parameter"):
        draw_graph(net, theta.tensor(np.ones((1, 3), np.float32)), path=3)
    assert calls == [1]


def test_recording_stops_after_drawing_even_when_forward_fails():
    class Broken(Module):
        def forward(self, x):
            raise ArithmeticError("inside forward")

    with pytest.raises(ArithmeticError, match="inside forward"):
        draw_graph(Broken(), theta.tensor(1.0))
    assert Module._call_hook is None
    draw_graph(TwoLayer(), theta.tensor(np.ones((1, 3), np.float32)))
    assert Module._call_hook is None


def test_missing_graphviz_names_the_extra_and_missing_dot_the_system_package(monkeypatch, tmp_path):
    y = theta.tensor([1.0], requires_grad=True).sum()
    monkeypatch.setenv("PATH", os.fspath(tmp_path))  # an empty folder: no dot program
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        draw_graph(y)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'theta-ml\[graph\]'"):
        draw_graph(y)
