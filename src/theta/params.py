"""Hyperparameters as constructor arguments: ``get_params``, ``set_params`` and ``clone``.

The chapter's rule, "if you change it, it's a hyperparameter", as scikit-learn's contract:
a learner's hyperparameters are exactly the arguments of its ``__init__``, stored unchanged
under the same names, so any search can read and change them without per-class code.
Estimators, RL agents and kNN indexes all share this one implementation. Every subclass is
also recorded by its ``registry_name`` (as every ``theta.nn.Module`` is), so ``theta.io`` can
rebuild a saved learner without running code from the file.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from typing import Any, ClassVar

__all__ = ["Params", "clone", "registry_name"]


def registry_name(cls: type) -> str:
    """``module.QualName``: the name a saved learner's or module's class is recorded and found
    by (``Params.registry``, ``theta.nn.Module.registry``), so a user's ``Linear`` never shadows
    ``theta.nn.Linear``.

    Examples
    --------
    >>> from theta.nn import Linear
    >>> registry_name(Linear)
    'theta.nn.layers.Linear'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


class Params:
    """Mixin: hyperparameters are the ``__init__`` arguments (scikit-learn's contract).

    Subclasses store every ``__init__`` argument under its own name and do nothing else in
    ``__init__``; ``*args`` and ``**kwargs`` are not allowed, so every knob has a name.

    Examples
    --------
    >>> class Line(Params):
    ...     def __init__(self, lr=0.05, *, steps=1000):
    ...         self.lr = lr
    ...         self.steps = steps
    >>> Line().set_params(lr=0.1).get_params()
    {'lr': 0.1, 'steps': 1000}
    """

    registry: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Params.registry[registry_name(cls)] = cls

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        parameters = list(inspect.signature(init).parameters.values())[1:]
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(
                    f"{cls.__name__}.__init__ takes *{p.name}; hyperparameters must be named "
                    "arguments so that get_params and set_params can see them."
                )
        return sorted(p.name for p in parameters)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, by name; with ``deep``, nested learners' as ``name__param``."""
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Params:
        """Change hyperparameters by name (``name__param`` reaches into nested learners).

        Raises
        ------
        ValueError
            For a name that is not a hyperparameter, listing the valid ones and the closest.
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delim, sub = key.partition("__")
            if name not in valid:
                names = sorted(self._get_param_names())
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}.{hint} "
                    f"Valid parameters are: {names!r}."
                )
            if delim:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or (type(a) is type(b) and a == b))
    except (TypeError, ValueError):  # arrays and other values without a plain ``==``
        return False


def clone(learner: Any) -> Any:
    """A new, unfitted learner with the same hyperparameters (deep-copied, nested cloned).

    Examples
    --------
    >>> class Line(Params):
    ...     def __init__(self, lr=0.05):
    ...         self.lr = lr
    >>> a = Line(lr=0.1)
    >>> b = clone(a)
    >>> b is a, b.lr
    (False, 0.1)
    """
    if isinstance(learner, list | tuple | set | frozenset):
        return type(learner)(clone(item) for item in learner)
    if not hasattr(learner, "get_params") or isinstance(learner, type):
        return copy.deepcopy(learner)
    params = {name: clone(value) for name, value in learner.get_params(deep=False).items()}
    return type(learner)(**params)
