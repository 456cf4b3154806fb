"""``Optimizer``: step 4 of the chapter's loop, "update", written once for every rule.

The base class owns everything that is the same for every optimizer: parameter groups,
``zero_grad``, the loop over parameters, the non-finite gradient guard, hyperparameter
checks and (de)serialisation. A subclass writes the update of **one** array, in place
(JAX's "write the per-array rule once, lift it to containers" on a PyTorch-style API):

    _init_state(p, group) -> dict of arrays      state for one parameter, made on first use
    _update(p, g, state, group)                  update ``p`` in place; never write into ``g``

An update allocates nothing after a parameter's first step: state arrays are made once, and
the temporaries of the arithmetic live in scratch buffers that the optimizer keeps per
(shape, dtype), shared by every parameter of that shape (only one parameter is updated at a
time), so scratch costs far less memory than one buffer per parameter would.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from theta.autograd import Tensor, enable_grad
from theta.errors import InvalidParameterError
from theta.validation import Each, Interval, check_param

__all__ = ["Optimizer", "weight_decay_groups"]

# Elementwise updates run over a large array in flat chunks of this many bytes, so that the
# temporaries of one chunk stay in the CPU cache from one NumPy operation to the next instead
# of each operation making a trip to memory (see Adam and SGD for measurements).
CHUNK_BYTES = 256 * 1024
# Parameters (or Adam's blocks of them) smaller than this take the NumPy path even where the
# compiled kernels (theta.kernels) are installed: a few microseconds either way, and a run of
# tiny parameters, such as the chapter's line, never imports Numba.
COMPILED_MIN_SIZE = 1024


# The allowed values of the optimizers' hyperparameters, in theta's one parameter rule
# (:mod:`theta.validation`). math.inf closes the ranges' right ends so that inf is refused.
POSITIVE = Interval(Real, 0, math.inf, closed="neither")
NON_NEGATIVE = Interval(Real, 0, math.inf, closed="left")
UNIT = Interval(Real, 0, 1, closed="left")  # decay rates: 1 would freeze an average forever
UNIT_CLOSED = Interval(Real, 0, 1)
BOOL = "boolean"
BETAS = Each(UNIT)  # and exactly two of them
ANY = "any"


def check_hyperparameter(value: object, name: str, allowed: Any, caller: str) -> Any:
    """Check ``value`` with :func:`~theta.validation.check_param` and store it as plain Python.

    Numbers become Python floats, bools Python bools, and betas a tuple of two floats, so a
    state dict holds no NumPy scalars whatever the caller passed.
    """
    check_param(value, name, allowed, caller=caller)
    if allowed == BOOL:
        return bool(value)
    if allowed == BETAS:
        if len(value) != 2:  # type: ignore[arg-type]
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller} must be a tuple of 2 {UNIT.plural()}. "
                f"Got {value!r} instead."
            )
        return float(value[0]), float(value[1])  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


def _as_groups(owner: str, params: object) -> tuple[list[dict[str, Any]], bool]:
    """Turn an iterable of tensors or of group dicts into group dicts (and say which it was)."""
    if isinstance(params, Tensor | np.ndarray):
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors or of parameter-group dicts, "
            f"not a single {type(params).__name__}; pass [tensor] or model.parameters()."
        )
    if isinstance(params, Mapping):
        params = [params]
    if not isinstance(params, Iterable):
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors or of parameter-group dicts "
            f"(got {type(params).__name__})."
        )
    items = list(params)
    if not items:
        raise ValueError(
            f"{owner}: got an empty parameter list; pass the tensors to train, "
            "e.g. model.parameters()."
        )
    n_dicts = sum(isinstance(item, Mapping) for item in items)
    if n_dicts == 0:
        return [{"params": items}], False
    if n_dicts != len(items):
        raise TypeError(
            f"{owner}: params mixes Tensors and parameter-group dicts; pass either a list of "
            "Tensors or a list of dicts, each with a 'params' entry."
        )
    return [dict(item) for item in items], True


class Optimizer:
    """Base class of the optimizers: owns parameter groups, the step loop and state.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The tensors to train (each with ``requires_grad=True``), or parameter groups: dicts
        with a ``"params"`` entry plus hyperparameters that override ``defaults`` for
        that group (e.g. a different ``"lr"``).
    defaults : dict
        Every hyperparameter of the subclass with its value for groups that do not set it.
    skip_nonfinite : bool, default=True
        Before updating, check every gradient for NaN or infinity (one cheap reduction per
        gradient: its dot product with itself, finite only if every element is). If any is
        non-finite, skip the whole step, leave every parameter unchanged and count it in
        ``skipped_steps``. Turn off to save that pass over the gradients.

    Attributes
    ----------
    param_groups : list of dict
        The groups, each with ``"params"`` (list of Tensor) and every hyperparameter.
    state : dict
        Per-parameter state (``"step"`` and arrays such as moments), keyed by the tensor.
    step_count : int
        Number of steps that updated the parameters.
    skipped_steps : int
        Number of steps skipped because a gradient was not finite.

    Examples
    --------
    A subclass writes the update of one array in place:

    >>> import numpy as np, theta
    >>> class SignDescent(Optimizer):
    ...     _ranges = {"lr": POSITIVE}
    ...     def __init__(self, params, lr=0.1):
    ...         super().__init__(params, {"lr": lr})
    ...     def _update(self, p, g, state, group):
    ...         (t,) = self._scratch(p.shape, p.dtype, 1)
    ...         np.sign(g, out=t)
    ...         t *= group["lr"]
    ...         p -= t
    >>> w = theta.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SignDescent([w], lr=0.5)
    >>> w.grad = np.array([3.0, -0.1], dtype=np.float32)
    >>> opt.step()
    >>> w.data
    array([ 0.5, -1.5], dtype=float32)
    """

    # Hyperparameter name -> its constraint (theta.validation's: POSITIVE, BOOL, BETAS, ...),
    # checked for every group.
    _ranges: ClassVar[dict[str, Any]] = {}
    # Names of every state array a subclass may create; a state dict with others is refused.
    _state_keys: ClassVar[frozenset[str]] = frozenset()
    # Whether the update reads the step count (a state dict must then carry each "step").
    _needs_step: ClassVar[bool] = False
    # torch.optim options theta has no hyperparameter for -> the value under which theta
    # computes the same update (ANY: the option only chooses how PyTorch runs it).
    _torch_options: ClassVar[dict[str, Any]] = {
        "foreach": ANY, "fused": ANY, "capturable": ANY, "differentiable": ANY,
        "initial_lr": ANY, "param_names": ANY, "maximize": False,
    }  # fmt: skip

    def __init__(
        self, params: Iterable[Any], defaults: Mapping[str, Any], *, skip_nonfinite: bool = True
    ) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.skip_nonfinite = check_hyperparameter(
            skip_nonfinite, "skip_nonfinite", BOOL, self._name
        )
        self.step_count = 0
        self.skipped_steps = 0
        self._buffers: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
        groups, as_dicts = _as_groups(self._name, params)
        for i, group in enumerate(groups):
            self._add_group(group, f"params[{i}]['params']" if as_dicts else "params")

    @property
    def _name(self) -> str:
        return type(self).__name__

    # --- groups -------------------------------------------------------------------------

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones use defaults).

        Parameters
        ----------
        param_group : dict
            ``{"params": iterable of Tensor, "lr": ..., ...}``.

        Raises
        ------
        ValueError
            If a tensor is already in another group, or a hyperparameter is out of range.

        Examples
        --------
        >>> import theta
        >>> from theta.optim import SGD
        >>> w, b = theta.tensor([1.0], requires_grad=True), theta.tensor([0.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, Mapping):
            raise TypeError(
                f"{self._name}.add_param_group: expected a dict with a 'params' entry "
                f"(got {type(param_group).__name__})."
            )
        self._add_group(dict(param_group), "param_group['params']")

    def _add_group(self, group: dict[str, Any], where: str) -> None:
        """Check a group's tensors and hyperparameters, fill defaults, and append it."""
        if "params" not in group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry.")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            label = f"{where}[{i}]"
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name}: {label} is a {type(p).__name__}, not a Tensor; pass "
                    "tensors created with requires_grad=True (e.g. model.parameters())."
                )
            if p.data.dtype.kind != "f":
                raise TypeError(
                    f"{self._name}: {label} has dtype {p.data.dtype}; only floating-point "
                    "tensors can be optimized."
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{self._name}: {label} does not require grad, so it would never be "
                    "updated; set requires_grad=True or leave it out."
                )
            if id(p) in taken:
                raise ValueError(
                    f"{self._name}: {label} appears more than once in the parameters; list "
                    "each tensor once (it would otherwise be updated twice per step)."
                )
            taken.add(id(p))
        unknown = sorted(set(group) - set(self.defaults) - {"params", "name"})
        if unknown:
            raise ValueError(
                f"{self._name}: unknown hyperparameter(s) {unknown} in a parameter group; "
                f"valid ones are {sorted(self.defaults)}."
            )
        full = {**self.defaults, **group, "params": params}
        index = None if where == "params" else len(self.param_groups)  # a group given as a dict
        self.param_groups.append(self._check_group(full, index))

    def _check_group(self, group: dict[str, Any], index: int | None = None) -> dict[str, Any]:
        """Validate a group's hyperparameters, storing them as plain Python values.

        A refusal names the group (by ``index``) when it was given as a dict, e.g. "The 'lr'
        parameter of Adam's parameter group 1 must be a float in the range (0, inf)."
        """
        caller = self._group_name(index)
        for name, allowed in self._ranges.items():
            group[name] = check_hyperparameter(group[name], name, allowed, caller)
        return group

    def _group_name(self, index: int | None) -> str:
        """How messages name parameter group ``index`` (the optimizer itself for ``None``)."""
        return self._name if index is None else f"{self._name}'s parameter group {index}"

    # --- the step -----------------------------------------------------------------------

    def zero_grad(self) -> None:
        """Clear every parameter's gradient (set it to ``None``) before the next backward.

        Examples
        --------
        >>> import numpy as np, theta
        >>> from theta.optim import SGD
        >>> w = theta.tensor([1.0], requires_grad=True)
        >>> w.grad = np.ones(1, dtype=np.float32)
        >>> SGD([w]).zero_grad()
        >>> w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place, as ``torch.optim`` does.

        Each updated parameter's version (``Tensor._version``) goes up by one, as any
        in-place change does, so a graph that saved the old values refuses a later
        ``backward`` (``loss.backward(retain_graph=True); opt.step(); loss.backward()``
        raises, as in PyTorch). A step whose gradients contain NaN or infinity changes
        nothing and counts in ``skipped_steps`` (see ``skip_nonfinite``).

        Parameters
        ----------
        closure : callable, optional
            Called once, with gradients recorded, before the update: it should clear the
            gradients, compute the loss, call ``backward`` and return the loss (optimizers
            that evaluate the loss more than once per step, such as L-BFGS, need it).

        Returns
        -------
        object or None
            What ``closure`` returned, or ``None`` without a closure.

        Examples
        --------
        >>> import numpy as np, theta
        >>> from theta.optim import SGD
        >>> w = theta.tensor([1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1)
        >>> w.grad = np.array([np.nan], dtype=np.float32)
        >>> opt.step(), opt.skipped_steps, w.data
        (None, 1, array([1.], dtype=float32))
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (w * w).sum()
        ...     loss.backward()
        ...     return loss
        >>> float(opt.step(closure).item()), w.data
        (1.0, array([0.8], dtype=float32))
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if self.skip_nonfinite and not self._grads_finite():
            self.skipped_steps += 1
            return loss
        for group in self.param_groups:
            self._step_group(group)
        self.step_count += 1
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        """Update each parameter of ``group`` that has a gradient with :meth:`_update`.

        An optimizer may update a whole group at once instead (Adam does): it overrides this,
        counts each updated parameter's ``"step"`` and bumps its ``_version``.
        """
        states, update = self.state, self._update
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            data = p.data
            if g.shape != data.shape:
                raise ValueError(
                    f"{self._name}.step: a gradient has shape {g.shape} but its parameter "
                    f"has shape {data.shape}; they must match."
                )
            state = states.get(p)
            if state is None:
                state = states[p] = {"step": 0, **self._init_state(data, group)}
            state["step"] += 1
            update(data, g, state, group)
            p._version += 1

    def _grads_finite(self) -> bool:
        """True if every gradient is finite, using one reduction per gradient.

        Neither ``np.vdot`` nor ``np.isfinite`` sets NumPy's floating-point warnings, so no
        ``np.errstate`` is needed around them (it would cost more than a small array's check).
        """
        # g.g is finite only if every element is (inf and NaN propagate; squares cannot cancel),
        # so one BLAS dot (twice as fast as a sum for float32), allocating nothing, decides.
        # Only a non-finite result, which finite values above ~1e19 (float32) reach by
        # overflowing, needs the exact check.
        vdot, isfinite = np.vdot, math.isfinite
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is not None and not isfinite(vdot(g, g)) and not np.isfinite(g).all():
                    return False
        return True

    def _init_state(self, p: np.ndarray, group: dict[str, Any]) -> dict[str, np.ndarray]:
        """Return the state arrays of parameter ``p`` (called once, before its first update)."""
        return {}

    def _update(
        self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update ``p`` in place from its gradient ``g`` (read only), ``state`` and ``group``."""
        raise NotImplementedError(f"{self._name} must implement _update(p, g, state, group).")

    def _scratch(self, shape: tuple[int, ...], dtype: np.dtype, n: int) -> list[np.ndarray]:
        """Return ``n`` (or more) scratch arrays of ``shape`` and ``dtype``, made once."""
        key = (shape, dtype)
        buffers = self._buffers.get(key)
        if buffers is None or len(buffers) < n:
            buffers = self._buffers[key] = [np.empty(shape, dtype) for _ in range(n)]
        return buffers

    @staticmethod
    def _state_array(state: dict[str, Any], key: str, p: np.ndarray) -> np.ndarray:
        """Return ``state[key]``, creating it as zeros on first use (options switched on late)."""
        arr = state.get(key)
        if arr is None:
            arr = state[key] = np.zeros_like(p)
        return arr

    # --- (de)serialisation --------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return a copy of the optimizer's state: only ndarrays and plain Python values.

        Parameters are numbered in group order, so the result can be saved as safetensors
        (the arrays) plus JSON (everything else) and loaded into an optimizer built over the
        same parameters in the same order.

        Returns
        -------
        dict
            ``{"state": {index: {"step": int, name: ndarray, ...}}, "param_groups": [{...,
            "params": [index, ...]}], "step_count": int, "skipped_steps": int}``.

        Examples
        --------
        >>> import numpy as np, theta
        >>> from theta.optim import SGD
        >>> w = theta.tensor([1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = np.ones(1, dtype=np.float32)
        >>> _ = opt.step()
        >>> sd = opt.state_dict()
        >>> sd["state"][0]["step"], sd["state"][0]["momentum_buffer"]
        (1, array([1.], dtype=float32))
        >>> sd["param_groups"][0]["params"], sd["step_count"]
        ([0], 1)
        """
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                saved = self.state.get(p)
                if saved is not None:
                    state[index] = {
                        k: v.copy() if isinstance(v, np.ndarray) else v for k, v in saved.items()
                    }
                ids.append(index)
                index += 1
            hyper = copy.deepcopy({k: v for k, v in group.items() if k != "params"})
            groups.append({**hyper, "params": ids})
        return {
            "state": state,
            "param_groups": groups,
            "step_count": self.step_count,
            "skipped_steps": self.skipped_steps,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` or by ``torch.optim``'s (arrays copied in).

        Hyperparameters are taken from the state dict. Keys of ``"state"`` may be ints or
        their strings (as a JSON round trip leaves them); betas may be lists. A PyTorch state
        dict (tensors for arrays and steps) loads into the theta optimizer of the same name:
        its options that only choose how the update runs (``foreach``, ``fused``,
        ``capturable``, ``differentiable``, a scheduler's ``initial_lr``, ``param_names``) are
        dropped, and those that would change the update theta computes (``maximize=True``
        where theta has no ``maximize``; ``decoupled_weight_decay`` unlike the class's) are
        refused.

        Raises
        ------
        ValueError
            If the number of groups or of parameters in a group differs, a hyperparameter is
            unknown or refused, or a state entry does not fit its parameter (unknown name,
            wrong shape). Nothing is changed then.

        Examples
        --------
        >>> import numpy as np, theta
        >>> from theta.optim import Adam
        >>> w = theta.tensor([1.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = np.ones(1, dtype=np.float32)
        >>> _ = opt.step()
        >>> resumed = Adam([w], lr=0.5)
        >>> resumed.load_state_dict(opt.state_dict())
        >>> resumed.param_groups[0]["lr"], resumed.state[w]["step"]
        (0.1, 1)
        """
        where = f"{self._name}.load_state_dict"
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}; build the optimizer over the same "
                "parameter groups it was saved from."
            )
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{where}: parameter group {i} has {len(saved['params'])} parameter(s) in "
                    f"the state dict but {len(group['params'])} in this optimizer."
                )
            hyper = self._from_torch(i, {k: v for k, v in saved.items() if k != "params"})
            if set(hyper) - {"name"} != set(self.defaults):
                raise ValueError(
                    f"{where}: parameter group {i} has hyperparameters {sorted(hyper)} but "
                    f"{self._name} uses {sorted(self.defaults)}; was it saved by a different "
                    "optimizer?"
                )
            new_groups.append(self._check_group({**hyper, "params": group["params"]}, i))
        flat = [p for group in self.param_groups for p in group["params"]]
        # state is keyed by the ids in the groups' "params" lists (0, 1, ... in group order)
        position = {int(k): i for i, k in enumerate(k for g in saved_groups for k in g["params"])}
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, saved in state_dict["state"].items():
            i = position.get(int(key), -1)
            if i < 0:
                raise ValueError(
                    f"{where}: state for parameter {key}, which no parameter group lists."
                )
            p = flat[i].data
            unknown = sorted(set(saved) - self._state_keys - {"step"})
            if unknown:
                raise ValueError(
                    f"{where}: state of parameter {i} has entries {unknown} that {self._name} "
                    f"does not use (it uses {sorted(self._state_keys)}); was it saved by a "
                    "different optimizer?"
                )
            if "step" not in saved and self._needs_step:
                raise ValueError(
                    f"{where}: state of parameter {i} has no 'step'; {self._name}'s update "
                    "depends on the number of steps taken."
                )
            entry: dict[str, Any] = {"step": int(saved.get("step", 0))}
            for k, v in saved.items():
                if k == "step" or v is None:  # PyTorch's SGD may save momentum_buffer=None
                    continue
                arr = np.asarray(v)
                if arr.shape != p.shape:
                    raise ValueError(
                        f"{where}: state {k!r} of parameter {i} has shape {arr.shape} but the "
                        f"parameter has shape {p.shape}."
                    )
                entry[k] = np.empty_like(p)
                np.copyto(entry[k], arr, casting="unsafe")
            new_state[flat[i]] = entry
        self.param_groups = new_groups
        self.state = new_state
        steps = [entry["step"] for entry in new_state.values()]
        self.step_count = int(state_dict.get("step_count", max(steps, default=0)))
        self.skipped_steps = int(state_dict.get("skipped_steps", 0))

    def _from_torch(self, i: int, hyper: dict[str, Any]) -> dict[str, Any]:
        """Drop the PyTorch-only options of group ``i`` that keep theta's update, refuse others."""
        kept = {}
        for key, value in hyper.items():
            if key in self.defaults or key == "name" or key not in self._torch_options:
                kept[key] = value  # unknown names are refused by the caller, with the list
                continue
            allowed = self._torch_options[key]
            if allowed is not ANY and bool(value) != allowed:
                raise ValueError(
                    f"{self._name}.load_state_dict: parameter group {i} was saved with "
                    f"{key}={value!r}, which changes the update theta's {self._name} computes; "
                    f"it supports only {key}={allowed!r}."
                )
        return kept

    def __repr__(self) -> str:
        n_params = sum(len(g["params"]) for g in self.param_groups)
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        groups = f", {len(self.param_groups)} groups" if len(self.param_groups) > 1 else ""
        return f"{self._name}({n_params} tensors{groups}; {hyper})"


def weight_decay_groups(params: Iterable[Any], weight_decay: float) -> list[dict[str, Any]]:
    """Split parameters into a decayed group (matrices) and an undecayed one (the rest).

    As in nanoGPT: weight decay regularises weight matrices and embeddings (2 or more
    dimensions), while biases and normalisation gains (vectors, scalars) are left alone.

    Parameters
    ----------
    params : iterable of Tensor or of (name, Tensor) pairs
        For example ``model.parameters()`` or ``model.named_parameters()``.
    weight_decay : float
        The decay of the first group.

    Returns
    -------
    list of dict
        Parameter groups for an optimizer; an empty group is left out.

    Examples
    --------
    >>> import numpy as np, theta
    >>> from theta.optim import AdamW
    >>> W = theta.tensor(np.ones((2, 3)), requires_grad=True)
    >>> b = theta.tensor(np.zeros(3), requires_grad=True)
    >>> groups = weight_decay_groups([W, b], weight_decay=0.1)
    >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
    [(1, 0.1), (1, 0.0)]
    >>> opt = AdamW(groups, lr=1e-3)
    """
    weight_decay = check_hyperparameter(
        weight_decay, "weight_decay", NON_NEGATIVE, "weight_decay_groups"
    )
    decay: list[Tensor] = []
    no_decay: list[Tensor] = []
    for item in params:
        p = item[1] if isinstance(item, tuple) else item
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
