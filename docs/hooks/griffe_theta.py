"""A Griffe extension that reads theta's sources the way a reader of the site should see them.

- Functions made when a module is imported: theta's lowercase op functions come from
  factories (``add = _binary_twin(Add, "add")``), functions with a docstring at run time but
  plain assignments to Griffe's static analysis, which would show them as bare attributes.
  Each public module-level assignment whose value is a function at run time is swapped for
  what Griffe's inspection sees (signature and docstring).
- Docstrings set at run time (``__doc__ = ... + _SHARED_DOC``) are read from the class or
  function itself when the source has none.
- Sphinx roles: docstrings say ``:class:`theta.tune.GridSearch` ``, which Markdown would show
  as written; they become links to the target's entry (plain code where it has none).

mkdocs.yml loads it with ``extensions: [docs/hooks/griffe_theta.py]``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|obj|data|exc):`~?([^`]+)`")


def _link(match: re.Match) -> str:
    """A link to the target where the site documents it, else plain code (autorefs' optional
    references raise no warning when the target is not on any page)."""
    target = match.group(1)
    text = target.rsplit(".", 1)[-1] if "~" in match.group(0) else target
    return f'<autoref identifier="{target}" optional><code>{text}</code></autoref>'


class ThetaDocstrings(griffe.Extension):
    def on_instance(self, *, obj, agent=None, **kwargs) -> None:
        if obj.docstring is None and agent is not None and (obj.is_class or obj.is_function):
            self._runtime_docstring(obj, agent)
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_link, obj.docstring.value)

    @staticmethod
    def _runtime_docstring(obj, agent) -> None:
        owner = importlib.import_module(obj.module.path)
        for name in obj.path.removeprefix(obj.module.path + ".").split("."):
            owner = getattr(owner, name, None)
        text = getattr(owner, "__doc__", None)  # a class's own: __doc__ is not inherited
        if text:
            obj.docstring = griffe.Docstring(
                inspect.cleandoc(text), parent=obj, parser=agent.docstring_parser,
                parser_options=agent.docstring_options,
            )  # fmt: skip

    def on_module_members(self, *, mod, agent, **kwargs) -> None:
        assigned = [
            name for name, member in mod.members.items()
            if isinstance(member, griffe.Attribute) and not name.startswith("_")
        ]  # fmt: skip
        if not assigned:
            return
        runtime = importlib.import_module(mod.path)
        made = [name for name in assigned if inspect.isfunction(getattr(runtime, name, None))]
        if not made:
            return
        inspected = griffe.inspect(
            mod.path,
            filepath=Path(runtime.__file__),
            docstring_parser=agent.docstring_parser,
            docstring_options=agent.docstring_options,
        )
        for name in made:
            function = inspected[name]
            function.lineno = mod.members[name].lineno
            function.endlineno = mod.members[name].endlineno
            self.on_instance(obj=function)
            mod.set_member(name, function)
