"""``Module`` and ``Parameter``: a model is parameters plus a forward function.

A ``Module`` finds its parameters by walking its attributes (sub-modules, lists, tuples and
dicts of them), so a layer only assigns ``self.weight = Parameter(...)`` and writes
``forward``. Names are dotted paths (``blocks.0.attn.in_proj_weight``); a parameter shared by two
attributes (tied weights) is listed, counted and updated once. The constructor arguments
of every module are recorded as its hyperparameters: the chapter's rule, "if gradient
descent changes it, it's a parameter; if you change it, it's a hyperparameter", in code.
"""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from theta.autograd import Tensor, get_default_dtype, no_grad
from theta.nn.init import charge_parameter_budget
from theta.params import registry_name

__all__ = ["IncompatibleKeys", "Module", "Parameter", "functional_call"]


class Parameter(Tensor):
    """A tensor that training adjusts: ``requires_grad`` is on, and modules find it.

    Python numbers and lists become the default dtype; floating ndarrays keep theirs.

    Examples
    --------
    >>> w = Parameter([2.0, 1.0])
    >>> w.requires_grad, w.dtype
    (True, dtype('float32'))
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        arr = data.data if isinstance(data, Tensor) else data
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            arr = np.asarray(arr, dtype=get_default_dtype())
        charge_parameter_budget(arr.size)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__().removeprefix("tensor(")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match.

    Examples
    --------
    >>> import theta
    >>> model = theta.nn.Linear(2, 1, rng=0)
    >>> model.load_state_dict({"weight": model.weight.numpy()}, strict=False)
    IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """

    missing_keys: list[str]
    unexpected_keys: list[str]


# Constructor arguments that are plumbing, not hyperparameters.
_NOT_HYPERPARAMETERS = frozenset({"self", "rng", "dtype"})


class Module:
    """Base class of every layer and model: parameters found by attribute, plus ``forward``.

    Subclasses call nothing special: assign ``Parameter``s and sub-modules as attributes
    and implement ``forward``. Calling the module runs ``forward``.

    Examples
    --------
    >>> class Line(Module):
    ...     def __init__(self, w0: float = 0.0):
    ...         self.w = Parameter(w0)
    ...         self.b = Parameter(0.0)
    ...     def forward(self, x):
    ...         return self.w * x + self.b
    >>> line = Line()
    >>> [name for name, _ in line.named_parameters()]
    ['w', 'b']
    >>> line.hyperparameters()
    {'w0': 0.0}
    """

    training: bool = True
    registry: ClassVar[dict[str, type[Module]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Module.registry[registry_name(cls)] = cls
        if "__init__" in cls.__dict__:
            cls.__init__ = _record_hyperparameters(cls.__init__)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward().")

    # Set only while theta.plot.draw_graph records which module call made which tensors: it is
    # called as _call_hook(module, args, kwargs) and runs forward itself. One check per call.
    _call_hook: ClassVar[Any] = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if Module._call_hook is None:
            return self.forward(*args, **kwargs)
        return Module._call_hook(self, args, kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        # Without this check an array assigned where a parameter was silently leaves the
        # module with one parameter fewer: nothing trains it and state_dict loses it.
        old = self.__dict__.get(name)
        if isinstance(old, Parameter) and isinstance(value, np.ndarray | Tensor):
            if not isinstance(value, Parameter):
                raise TypeError(
                    f"{type(self).__name__}.{name}: cannot replace a Parameter with a "
                    f"{type(value).__name__}; it would stop being trained and saved. Wrap it "
                    f"(`self.{name} = Parameter(value)`), or, for state that is not trained, "
                    f"delete the parameter first and use `self.register_buffer({name!r}, value)`."
                )
        elif name in self.__dict__.get("_buffer_names", ()) and not isinstance(value, Tensor):
            raise TypeError(
                f"{type(self).__name__}.{name}: a buffer must be a Tensor "
                f"(got {type(value).__name__}); wrap it with theta.tensor(value)."
            )
        object.__setattr__(self, name, value)

    # --- hyperparameters --------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments this module was built with (what ``save`` records)."""
        return dict(self.__dict__.get("_hyperparameters", {}))

    # --- parameters and sub-modules ---------------------------------------------------------

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)`` in attribute order, each parameter once."""
        seen: set[int] = set()
        for name, value in _attributes(self):
            for path, param in _walk(value, name):
                if id(param) not in seen:  # tied weights (embedding = output head) appear once
                    seen.add(id(param))
                    yield path, param

    def parameters(self) -> Iterator[Parameter]:
        """Yield every parameter once."""
        for _, param in self.named_parameters():
            yield param

    def register_buffer(self, name: str, tensor: Any) -> None:
        """Keep ``tensor`` as state that is saved but not trained (a running mean, a mask).

        It becomes the attribute ``name``, is in ``state_dict()`` and ``buffers()``, and is
        never in ``parameters()``. An ndarray is wrapped in a Tensor sharing its memory.

        Examples
        --------
        >>> import numpy as np
        >>> from theta.nn import Linear
        >>> layer = Linear(2, 1, rng=0)
        >>> layer.register_buffer("scale", np.ones(1))
        >>> sorted(layer.state_dict()), [n for n, _ in layer.named_parameters()]
        (['bias', 'scale', 'weight'], ['weight', 'bias'])
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer: name must be an identifier (got {name!r}).")
        if isinstance(self.__dict__.get(name), Parameter | Module):
            raise KeyError(
                f"register_buffer: {type(self).__name__}.{name} already holds a "
                f"{type(self.__dict__[name]).__name__}; choose another name."
            )
        if not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self.__dict__.setdefault("_buffer_names", [])
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        object.__setattr__(self, name, tensor)

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted_name, buffer)`` for this module's buffers and its sub-modules'."""
        for prefix, module in self.named_modules():
            for name in module.__dict__.get("_buffer_names", ()):
                yield (f"{prefix}.{name}" if prefix else name), module.__dict__[name]

    def buffers(self) -> Iterator[Tensor]:
        """Yield every buffer (see :meth:`register_buffer`)."""
        for _, buffer in self.named_buffers():
            yield buffer

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for the direct sub-modules (in lists and dicts too), once."""
        seen: set[int] = set()
        for attr, value in _attributes(self):
            for name, module in _walk_modules(value, attr):
                if id(module) not in seen:
                    seen.add(id(module))
                    yield name, module

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def modules(self) -> Iterator[Module]:
        """Yield this module and every sub-module, once each, parents before children."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every sub-module, children before parents, then on this one.

        As PyTorch's ``Module.apply``, e.g. to re-initialise every ``Linear``; returns self.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted_name, module)`` for this module and every sub-module, once each."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop(0)
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = []
            for attr, value in _attributes(module):
                children.extend(_walk_modules(value, f"{name}.{attr}" if name else attr))
            stack[0:0] = children

    def n_parameters(self) -> int:
        """Total number of learned numbers (tied parameters counted once)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Clear every parameter's gradient (gradients accumulate until cleared)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Switch this module and its sub-modules to training mode (dropout active)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be True or False (got {mode!r}).")
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Switch to inference mode (dropout off)."""
        return self.train(False)

    # --- parameters as data -----------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat ``{dotted_name: ndarray}`` copy of every parameter, then every buffer."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        return state | {name: b.data.copy() for name, b in self.named_buffers()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` into the parameters, checking every name and shape first.

        Nothing is changed unless every array fits. With ``strict`` a missing or unexpected
        name is an error too; without it, those are returned. The copy is an in-place change
        of each loaded parameter (its version goes up), so a graph built before it refuses
        ``backward``.

        Raises
        ------
        ValueError
            Listing every missing, unexpected or wrong-shaped name (shapes wrong always).
        """
        params = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        params |= buffers
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        wrong = []
        for k in (k for k in params if k in state):
            shape, dtype = np.shape(state[k]), np.asarray(state[k]).dtype
            if shape != params[k].shape:
                wrong.append(f"{k}: expected {params[k].shape}, got {shape}")
            if k in buffers and not np.can_cast(dtype, buffers[k].dtype, "same_kind"):
                wrong.append(f"{k}: expected values castable to {buffers[k].dtype}, got {dtype}")
            elif k not in buffers and dtype.kind != "f":
                wrong.append(f"{k}: expected floating values, got dtype {dtype}")
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if wrong:
            problems.append(f"wrong shapes or dtypes: {'; '.join(wrong)}")
        if problems:
            raise ValueError(
                f"load_state_dict: the state does not fit {type(self).__name__}; "
                + "; ".join(problems)
                + "."
            )
        with np.errstate(over="ignore"):  # float64 → float32 saturates to inf, as in PyTorch
            for name, param in params.items():
                if name in state:
                    value = state[name]
                    np.copyto(param.data, value.data if isinstance(value, Tensor) else value)
                    param._version += 1
        return IncompatibleKeys(missing, unexpected)

    # --- the parameter / hyperparameter split, visible ----------------------------------------

    def summary(self, input_shape: Sequence[int] | None = None, dtype: Any = None) -> str:
        """A table of every parameter (name, shape, count) and, apart, the hyperparameters;
        with ``input_shape``, a table of every layer's output shape and parameter count.

        The layer table (torchinfo's and Keras's) comes from one forward pass on a batch of
        zeros of ``input_shape`` and ``dtype`` (default: the parameters' dtype), under
        ``no_grad`` in eval mode; the modules' modes are restored afterwards. Each row is a
        sub-module by dotted name, parents before children, with the output of its first
        call ("-" if ``forward`` never called it) and its parameters, its children's included.

        Parameters
        ----------
        input_shape : sequence of int, optional
            Shape of the input batch, e.g. ``(1, 1, 8, 8)`` for one 8x8 grey image.
        dtype : numpy dtype, optional
            Dtype of the input (e.g. ``np.int64`` for token ids).

        Raises
        ------
        ValueError
            If a layer cannot take what the one before it gave: the message names the layer,
            its class, the shape it got and the layer's own error.

        Examples
        --------
        >>> from theta.nn import MLP, Linear
        >>> print(Linear(2, 1, rng=0).summary())
        Linear
        parameter  shape   count
        weight     (1, 2)      2
        bias       (1,)        1
        total                  3
        hyperparameter  value
        in_features     2
        out_features    1
        bias            True
        >>> print(MLP((4, 8, 3), rng=0).summary(input_shape=(2, 4)))
        MLP: input (2, 4) float32
        layer  type        output shape  parameters
        0      LinearReLU  (2, 8)                40
        2      Linear      (2, 3)                27
        total  MLP         (2, 3)                67
        """
        if input_shape is not None:
            return _layer_summary(self, input_shape, dtype)
        rows, hyper = self._summary_rows()
        lines = [type(self).__name__]
        lines += _table(("parameter", "shape", "count"), rows, right_align_last=True)
        if hyper:
            lines += _table(("hyperparameter", "value"), hyper)
        return "\n".join(lines)

    def _summary_rows(self) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """The rows of :meth:`summary`'s tables: parameters (and the total), hyperparameters."""
        rows = [(name, str(p.shape), f"{p.size:,}") for name, p in self.named_parameters()]
        rows.append(("total", "", f"{self.n_parameters():,}"))
        hyper = [(k, _short_repr(v)) for k, v in self._all_hyperparameters().items()]
        return rows, hyper

    def _repr_html_(self) -> str:
        """:meth:`summary` as HTML tables, which Jupyter shows for a model left as a cell's
        value (the text ``repr`` stays PyTorch's tree of sub-modules)."""
        rows, hyper = self._summary_rows()
        tables = [_html_table(("parameter", "shape", "count"), rows, right_align_last=True)]
        if hyper:
            tables.append(_html_table(("hyperparameter", "value"), hyper))
        name = html.escape(type(self).__name__)
        return f"<div><p><b>{name}</b></p>{''.join(tables)}</div>"

    def _all_hyperparameters(self) -> dict[str, Any]:
        """This module's arguments, with its sub-modules' ones under dotted names."""
        out: dict[str, Any] = {}
        for name, module in self.named_modules():
            for key, value in module.hyperparameters().items():
                if not isinstance(value, Module | list | tuple) or not _has_module(value):
                    out[f"{name}.{key}" if name else key] = value
        return out

    def __repr__(self) -> str:
        """One line for a leaf; for a module with sub-modules, PyTorch's tree of them."""
        args = ", ".join(
            f"{k}={_short_repr(v)}" for k, v in self.hyperparameters().items() if not _has_module(v)
        )
        children = [f"({name}): {module!r}" for name, module in self.named_children()]
        if not children:
            return f"{type(self).__name__}({args})"
        body = ([args] if args else []) + children
        return f"{type(self).__name__}(\n  " + "\n".join(body).replace("\n", "\n  ") + "\n)"


def _snapshot(value: Any) -> Any:
    """Copy containers (not the objects in them), so later edits by the caller do not leak in."""
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def _record_hyperparameters(init: Any) -> Any:
    """Wrap ``__init__`` so the most-derived class's arguments are kept as hyperparameters."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Module, *args: Any, **kwargs: Any) -> None:
        if "_hyperparameters" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self._hyperparameters = {
                k: _snapshot(v) for k, v in bound.arguments.items() if k not in _NOT_HYPERPARAMETERS
            }
        init(self, *args, **kwargs)

    return wrapper


def _attributes(module: Module) -> Iterator[tuple[str, Any]]:
    """The attributes that may hold parameters: all but the bookkeeping."""
    return (
        (k, v) for k, v in vars(module).items() if k not in ("_hyperparameters", "_buffer_names")
    )


def _walk(value: object, path: str) -> Iterator[tuple[str, Parameter]]:
    """Every place a parameter is stored, tied ones under each of their names."""
    if isinstance(value, Parameter):
        yield path, value
    elif isinstance(value, Module):
        for name, item in _attributes(value):
            yield from _walk(item, f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")


def _walk_modules(value: object, path: str) -> Iterator[tuple[str, Module]]:
    if isinstance(value, Module):
        yield path, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk_modules(item, f"{path}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_modules(item, f"{path}.{key}")


def _has_module(value: object) -> bool:
    if isinstance(value, Module):
        return True
    return isinstance(value, list | tuple) and any(_has_module(v) for v in value)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _LayerError(ValueError):
    """A layer's own error, already named by :func:`_layer_summary`, so parents pass it on."""


def _layer_summary(model: Module, input_shape: Sequence[int], dtype: Any) -> str:
    """``summary(input_shape)``: every sub-module's output shape, from one forward on zeros."""
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else input_shape
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(
            f"summary: input_shape must be a sequence of non-negative ints, e.g. (1, 1, 8, 8) "
            f"(got {input_shape!r})."
        )
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()), get_default_dtype())
    modules = list(model.named_modules())
    outputs: dict[str, Any] = {}
    modes = [(module, module.training) for _, module in modules]
    # a wrapper per module, as an instance attribute shadowing the class's forward; removed
    # (or the module's own instance attribute put back) whatever the forward does
    saved = [(module, module.__dict__.get("forward", _MISSING)) for _, module in modules]
    try:
        for name, module in modules:
            object.__setattr__(module, "forward", _recording(module, name, outputs))
        model.eval()
        with no_grad():
            model(Tensor(np.zeros(shape, dtype=dtype)))
    except _LayerError as exc:
        raise ValueError(str(exc)) from exc.__cause__
    finally:
        for module, forward in saved:
            module.__dict__.pop("forward", None)
            if forward is not _MISSING:
                object.__setattr__(module, "forward", forward)
        for module, mode in modes:
            module.training = mode
    rows = [
        (name or "total", type(module).__name__, _shape_of(outputs.get(name, _MISSING)),
         f"{module.n_parameters():,}")
        for name, module in [*modules[1:], modules[0]]  # the model itself last, as the total
    ]  # fmt: skip
    header = f"{type(model).__name__}: input {shape} {np.dtype(dtype)}"
    return "\n".join([header, *_table(("layer", "type", "output shape", "parameters"), rows,
                                      right_align_last=True)])  # fmt: skip


_MISSING = object()


def _recording(module: Module, name: str, outputs: dict[str, Any]) -> Any:
    """``module.forward``, keeping its first output in ``outputs[name]`` and naming the layer
    in a ValueError it raises."""
    forward = module.forward

    def recorded(*args: Any, **kwargs: Any) -> Any:
        try:
            out = forward(*args, **kwargs)
        except _LayerError:
            raise
        except ValueError as exc:
            got = ", ".join(_shape_of(a) for a in args) or "nothing"
            where = f"layer {name} ({type(module).__name__})" if name else type(module).__name__
            raise _LayerError(
                f"summary: {where} cannot take an input of shape {got}: {exc}"
            ) from exc
        outputs.setdefault(name, out)
        return out

    return recorded


def _shape_of(value: Any) -> str:
    """The shape of an output: a tensor's, a list of them for a tuple, '-' for none."""
    if value is _MISSING:
        return "-"
    if isinstance(value, Tensor | np.ndarray):
        return str(value.shape)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shape_of(v) for v in value) + "]"
    return type(value).__name__


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right_align_last=False) -> list:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        if right_align_last:
            cells[-1] = row[-1].rjust(widths[-1])
        lines.append("  ".join(cells).rstrip())
    return lines


def _html_table(header: tuple[str, ...], rows: list[tuple[str, ...]],
                right_align_last: bool = False) -> str:  # fmt: skip
    """``_table`` in HTML: ``rows`` under ``header``, every cell escaped."""
    align = ' style="text-align: right"' if right_align_last else ""

    def line(row: tuple[str, ...], tag: str) -> str:
        cells = "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row[:-1])
        return f"<tr>{cells}<{tag}{align}>{html.escape(row[-1])}</{tag}></tr>"

    body = "".join(line(row, "td") for row in rows)
    return f"<table><thead>{line(header, 'th')}</thead><tbody>{body}</tbody></table>"


def functional_call(module: Module, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
    """Evaluate ``f(x; θ)`` with the given ``θ`` instead of the module's own parameters.

    ``params`` maps dotted names to tensors or arrays (names not given keep the module's
    values); a tied parameter is replaced in every place it is used. Gradients flow to the
    given tensors; the module's parameters are left as they were, even if ``forward`` raises.

    Examples
    --------
    >>> import numpy as np, theta
    >>> from theta.nn import Linear
    >>> layer = Linear(1, 1, rng=0)
    >>> theta_ = {"weight": np.array([[2.0]]), "bias": np.array([1.0])}
    >>> functional_call(layer, theta_, theta.tensor([[10.0]])).item()
    21.0
    """
    own = dict(module.named_parameters())
    unknown = [k for k in params if k not in own]
    if unknown:
        raise ValueError(
            f"functional_call: {type(module).__name__} has no parameters named "
            f"{', '.join(unknown)}; it has {', '.join(own)}."
        )
    new: dict[int, Tensor] = {}  # id of the module's parameter -> its replacement
    for name, value in params.items():
        value = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        if value.shape != own[name].shape:
            raise ValueError(
                f"functional_call: {name} must have shape {own[name].shape} (got {value.shape})."
            )
        new[id(own[name])] = value
    # every place a given parameter is stored, so a tied weight is replaced in all its uses
    places = []
    for name, value in _attributes(module):
        for path, param in _walk(value, name):
            if id(param) in new:
                owner, attr, key = _locate(module, path)
                if isinstance(owner, tuple):
                    raise TypeError(
                        f"functional_call: {path} is held in a tuple, which cannot be swapped; "
                        "keep parameters in a list or dict."
                    )
                places.append((owner, attr, key, param))
    swaps = []  # only what was swapped is restored
    try:
        for owner, attr, key, original in places:
            _assign(owner, attr, key, new[id(original)])
            swaps.append((owner, attr, key, original))
        return module(*args, **kwargs)
    finally:
        for owner, attr, key, original in reversed(swaps):
            _assign(owner, attr, key, original)


def _locate(module: Module, dotted: str) -> tuple[Any, str, Any]:
    """Find the container holding parameter ``dotted``: (owner, attribute, key or None)."""
    parts = dotted.split(".")
    owner: Any = module
    for part in parts[:-1]:
        owner = (
            owner[int(part)]
            if isinstance(owner, list | tuple)
            else (owner[part] if isinstance(owner, dict) else getattr(owner, part))
        )
    last = parts[-1]
    if isinstance(owner, list | tuple):
        return owner, "", int(last)
    if isinstance(owner, dict):
        return owner, "", last
    return owner, last, None


def _assign(owner: Any, attr: str, key: Any, value: Any) -> None:
    if key is None:
        object.__setattr__(owner, attr, value)  # a plain tensor in a parameter's place, on purpose
    else:
        owner[key] = value  # a list or dict; functional_call rejects tuples before swapping
