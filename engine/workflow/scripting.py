"""A restricted Python environment for BPMN scripts, conditions and timer expressions.

Scripts come from deployed process definitions (written by administrators), never from
citizens: task data is passed in as plain values and is never compiled or evaluated. Even
so a script may not import, reach dunder attributes (the usual sandbox escapes), open
files or sockets: only the whitelisted builtins below exist in its namespace.
"""

from __future__ import annotations

import ast
import datetime as _dt
import decimal
from functools import lru_cache
from types import CodeType
from typing import Any, cast

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.workflow.errors import ScriptRefusedError

_ALLOWED_BUILTINS: dict[str, Any] = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in [
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "len",
        "list",
        "map",
        "max",
        "min",
        "range",
        "reversed",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
        "ValueError",
        "KeyError",
        "TypeError",
        "Exception",
    ]
}
# Values scripts commonly need for dates and money; classes, not modules, so no escape
# through module attributes.
_ALLOWED_GLOBALS: dict[str, Any] = {
    "date": _dt.date,
    "datetime": _dt.datetime,
    "timedelta": _dt.timedelta,
    "timezone": _dt.timezone,
    "Decimal": decimal.Decimal,
}
_FORBIDDEN_NODES = (
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
    ast.ClassDef,
    ast.AsyncFunctionDef,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.With,
    ast.AsyncWith,
)
# str.format can walk attributes ("{0.__class__}"), so the formatting methods are refused.
_FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro"})


def check_source(source: str, mode: str = "exec") -> CodeType:
    """Compile ``source`` after refusing anything outside the restricted subset."""
    return _compile(source, mode)


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptRefusedError(
            f"syntax error on line {exc.lineno}: {exc.msg}. Fix the Python expression or script."
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES):
            raise ScriptRefusedError(
                f"'{type(node).__name__}' is not allowed in process scripts "
                "(no imports, classes, globals or context managers); compute with plain "
                "expressions or register a service task handler instead."
            )
        if isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRIBUTES
        ):
            raise ScriptRefusedError(
                f"attribute '{node.attr}' is not allowed in process scripts; "
                "use f-strings and public attributes only."
            )
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ScriptRefusedError(f"name '{node.id}' is not allowed in process scripts.")
    return compile(cast(Any, tree), "<string>", mode)


class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Evaluates expressions and runs scripts with only whitelisted builtins."""

    def __init__(self) -> None:
        super().__init__(dict(_ALLOWED_GLOBALS))

    def _namespace(self, context: dict[str, Any], external: dict[str, Any] | None) -> dict[str, Any]:
        namespace: dict[str, Any] = {"__builtins__": _ALLOWED_BUILTINS}
        namespace.update(self.globals)
        namespace.update(external or {})
        namespace.update(context)
        return namespace

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        """Evaluate one expression against a copy of the task data."""
        code = _compile(expression.strip(), "eval")
        namespace = self._namespace(context, external_context)
        return eval(code, namespace)  # noqa: S307 - restricted, see module docstring

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        """Run a script; the names it assigns become task data."""
        self.check_for_overwrite(context, external_context or {})
        code = _compile(script, "exec")
        namespace = self._namespace(context, external_context)
        exec(code, namespace)  # noqa: S102 - restricted, see module docstring
        for key in ("__builtins__", *self.globals, *(external_context or {})):
            namespace.pop(key, None)
        context.clear()
        context.update({k: v for k, v in namespace.items() if not callable(v)})
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks never run inside the script engine; engine.workflow.service_tasks runs them."""
        raise ScriptRefusedError("service tasks are run by the Polis job queue, not by scripts")


#: One shared engine: it holds no per-case state. Set it on every workflow after restore.
SCRIPT_ENGINE = PythonScriptEngine(environment=RestrictedEnvironment())
