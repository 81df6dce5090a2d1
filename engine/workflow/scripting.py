"""A restricted Python environment for BPMN scripts, conditions and timer expressions.

Scripts come from deployed process definitions (written by administrators or contractors),
never from citizens: task data is passed in as plain values and is never compiled or
evaluated. A script runs with the worker's database, HSM and signing credentials, so it is
treated as hostile code:

* It is compiled with RestrictedPython (``compile_restricted``) under a stricter policy:
  no imports, classes, generators (``yield``), ``global``/``nonlocal``, context managers,
  decorators, bare ``except:`` or computed format specs; no name or attribute starting with
  ``_``; no frame, code, generator or traceback attribute (``gi_frame``, ``f_back``...).
* Every attribute read, item read, iteration and write goes through a guard
  (``_getattr_``, ``_getitem_``, ``_getiter_``, ``_write_``): ``format``/``format_map``/``mro``
  are refused, as is any attribute of a module, frame, code, generator or traceback object.
* Only the whitelisted builtins below exist; ``range`` is bounded.
* Each run has a budget: a wall-clock limit and a step limit (every loop iteration and
  function call is a step), and no value it builds may exceed a size limit (``"a" * 10**10``,
  ``[0] * 10**9``, ``10 ** 10**8``, ``"".join`` / ``replace`` / ``ljust`` of huge results).
  Running out of budget stops the script with an exception it cannot catch.
"""

from __future__ import annotations

import ast
import datetime as _dt
import decimal
import operator
import os
import time
import types
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any, TypeVar

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.workflow.errors import ScriptRefusedError

#: Wall-clock time one script or expression may run.
TIME_LIMIT_SECONDS = 2.0
#: Loop iterations plus function calls one script or expression may make.
STEP_LIMIT = 1_000_000
#: Memory a script may add to the process while it runs (resident set growth, checked
#: every few milliseconds of its run; Linux /proc).
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024
#: Largest string, list, tuple or bytes a script may build (items or characters).
SIZE_LIMIT = 1_000_000
#: Largest integer a script may build, in bits (about 20,000 decimal digits).
INT_BITS_LIMIT = 65_536
#: Largest width in an f-string format spec (``f"{x:>10}"``).
FORMAT_WIDTH_LIMIT = 1_000

_N = TypeVar("_N", bound=ast.AST)

_BUILTIN_NAMES = [
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
_BUILTINS_SOURCE: Any = __builtins__
_SAFE_BUILTINS: dict[str, Any] = {
    name: _BUILTINS_SOURCE[name] if isinstance(_BUILTINS_SOURCE, dict) else getattr(_BUILTINS_SOURCE, name)
    for name in _BUILTIN_NAMES
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
# str.format can walk attributes ("{0.__class__}"); mro() leads to object and its subclasses;
# with_traceback and the introspection attributes RestrictedPython lists lead to frames.
_REFUSED_ATTRIBUTES = INSPECT_ATTRIBUTES | {
    "format",
    "format_map",
    "mro",
    "with_traceback",
    "gi_running",
    "gi_suspended",
    "f_lasti",
    "f_lineno",
    "tb_lasti",
    "tb_lineno",
}
# Objects whose attributes lead out of the sandbox, whatever the attribute's name.
_OPAQUE_TYPES = (
    types.ModuleType,
    types.FrameType,
    types.CodeType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.TracebackType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Import: "imports",
    ast.ImportFrom: "imports",
    ast.Global: "'global'",
    ast.Nonlocal: "'nonlocal'",
    ast.ClassDef: "classes",
    ast.AsyncFunctionDef: "async functions",
    ast.Await: "'await'",
    ast.Yield: "generators ('yield')",
    ast.YieldFrom: "generators ('yield from')",
    ast.With: "context managers ('with')",
    ast.AsyncWith: "context managers ('async with')",
    ast.AsyncFor: "'async for'",
}


class ScriptBudgetExceeded(BaseException):
    """Raised inside a script when its budget runs out.

    A ``BaseException``: scripts can only name ``Exception`` subclasses and may not write a
    bare ``except:``, so a script cannot catch it and carry on looping.
    """


def _located(new: _N, old: ast.AST) -> _N:
    """Give generated nodes the source position of the node they replace."""
    for child in ast.walk(new):
        if "lineno" in child._attributes and not hasattr(child, "lineno"):
            ast.copy_location(child, old)
    return new


def _refuse_nodes(node: ast.AST) -> str | None:
    what = _REFUSED_NODES.get(type(node))
    if what:
        return (
            f"{what} are not allowed in process scripts (no imports, classes, globals, "
            "generators or context managers); compute with plain expressions or register a "
            "service task handler instead."
        )
    return None


class _PolisPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, plus the calls that enforce the per-run budget."""

    def visit(self, node: ast.AST) -> Any:
        refusal = _refuse_nodes(node)
        if refusal:
            self.error(node, refusal)
            return node
        return super().visit(node)

    # --- budget: a step at every loop iteration and function call -----------------------
    # (for loops and comprehensions step in _getiter_, which RestrictedPython wraps them in)

    def _tick(self, node: ast.AST) -> ast.stmt:
        call = ast.Expr(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]))
        return _located(call, node)

    def visit_While(self, node: ast.While) -> Any:  # noqa: N802 - ast.NodeTransformer names
        new = super().visit_While(node)
        if isinstance(new, ast.While):
            new.body.insert(0, self._tick(new))
        return new

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:  # noqa: N802 - ast.NodeTransformer names
        if node.decorator_list:
            self.error(node, "decorators are not allowed in process scripts.")
            return node
        new = super().visit_FunctionDef(node)
        if isinstance(new, ast.FunctionDef):
            new.body.insert(0, self._tick(new))
        return new

    def visit_Lambda(self, node: ast.Lambda) -> Any:  # noqa: N802 - ast.NodeTransformer names
        new = super().visit_Lambda(node)
        if isinstance(new, ast.Lambda):
            call = ast.Call(func=ast.Name("_tick_", ast.Load()), args=[new.body], keywords=[])
            new.body = _located(call, new.body)
        return new

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:  # noqa: N802 - ast.NodeTransformer names
        if node.type is None:
            self.error(node, "a bare 'except:' is not allowed; name the exception (except ValueError:).")
            return node
        return super().visit_ExceptHandler(node)

    # --- size: operators that can build huge values -------------------------------------

    def visit_BinOp(self, node: ast.BinOp) -> Any:  # noqa: N802 - ast.NodeTransformer names
        new = super().visit_BinOp(node)
        if isinstance(new, ast.BinOp) and type(new.op) in _SIZED_OPERATORS:
            call = ast.Call(
                func=ast.Name("_binop_", ast.Load()),
                args=[ast.Constant(_SIZED_OPERATORS[type(new.op)]), new.left, new.right],
                keywords=[],
            )
            return _located(call, new)
        return new

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:  # noqa: N802 - ast.NodeTransformer names
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            for part in parts:
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    self.error(node, "computed format specs (f'{x:{width}}') are not allowed.")
                    return node
                digits = "".join(c if c.isdigit() else " " for c in part.value).split()
                if any(int(d) > FORMAT_WIDTH_LIMIT for d in digits):
                    self.error(node, f"format widths above {FORMAT_WIDTH_LIMIT} are not allowed.")
                    return node
        return super().visit_FormattedValue(node)


_SIZED_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "|": operator.or_,
    "^": operator.xor,
    "&": operator.and_,
    "@": operator.matmul,
}
_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _too_big(what: str) -> ScriptBudgetExceeded:
    return ScriptBudgetExceeded(
        f"the script builds {what} larger than the limit ({SIZE_LIMIT:,} items or characters, "
        f"integers of {INT_BITS_LIMIT:,} bits)"
    )


def _check_sized_operation(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would exceed the size limits, before computing it."""
    both_int = isinstance(left, int) and isinstance(right, int)
    if op == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if len(left) + len(right) > SIZE_LIMIT:
            raise _too_big("a sequence")
    elif op == "*" and both_int:
        if left.bit_length() + right.bit_length() > INT_BITS_LIMIT:
            raise _too_big("an integer")
    elif op == "*":
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            size, count = len(left), right
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            size, count = len(right), left
        else:
            size, count = 0, 0
        if size * max(count, 0) > SIZE_LIMIT:
            raise _too_big("a sequence")
    elif op == "**" and both_int:
        if right > 0 and abs(left) > 1 and abs(left).bit_length() * right > INT_BITS_LIMIT:
            raise _too_big("an integer")
    elif op == "<<" and both_int and left and left.bit_length() + right > INT_BITS_LIMIT:
        raise _too_big("an integer")


def _binop(op: str, left: Any, right: Any) -> Any:
    _check_sized_operation(op, left, right)
    return _OPERATORS[op](left, right)


def _inplacevar(op: str, left: Any, right: Any) -> Any:
    """``x += y`` and friends (RestrictedPython rewrites them to this call)."""
    binary = op[:-1]
    if binary not in _OPERATORS:
        raise ScriptRefusedError(f"operator '{op}' is not allowed in process scripts.")
    _check_sized_operation(binary, left, right)
    return _OPERATORS[binary](left, right)


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > SIZE_LIMIT:
        raise _too_big("a range")
    return result


def _sized_method(obj: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a str/list method that can build a huge value so the size is checked first."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            items = list(args[0]) if args else []
            total = sum(len(i) if isinstance(i, _SEQUENCES) else 0 for i in items)
            if total + len(obj) * max(len(items) - 1, 0) > SIZE_LIMIT:
                raise _too_big("a string")
            return method(items, *args[1:], **kwargs)
        if name == "extend":
            items = list(args[0]) if args else []
            if len(obj) + len(items) > SIZE_LIMIT:
                raise _too_big("a list")
            return method(items)
        if name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            growth = max(len(new) - len(old), 0)
            times = len(obj) + 1 if count is None or count < 0 else min(count, len(obj) + 1)
            if len(obj) + growth * times > SIZE_LIMIT:
                raise _too_big("a string")
        elif name in ("ljust", "rjust", "center", "zfill") and args:
            if isinstance(args[0], int) and args[0] > SIZE_LIMIT:
                raise _too_big("a string")
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(tabsize, int) and len(obj) * max(tabsize, 1) > SIZE_LIMIT:
                raise _too_big("a string")
        return method(*args, **kwargs)

    return wrapped


_SIZED_METHODS = frozenset({"join", "extend", "replace", "ljust", "rjust", "center", "zfill", "expandtabs"})


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """Attribute reads of scripts: public, non-introspective attributes of plain values."""
    if not isinstance(name, str) or name.startswith("_") or name in _REFUSED_ATTRIBUTES:
        raise ScriptRefusedError(f"attribute '{name}' is not allowed in process scripts.")
    if isinstance(obj, _OPAQUE_TYPES):
        raise ScriptRefusedError(
            f"attributes of {type(obj).__name__} objects are not allowed in process scripts."
        )
    if name in _SIZED_METHODS and isinstance(obj, type):
        raise ScriptRefusedError(
            f"call '{name}' on a value (\"-\".join(items)), not on the type, in process scripts."
        )
    value = getattr(obj, name, *default)
    if name in _SIZED_METHODS and isinstance(obj, (str, bytes, list)):
        return _sized_method(obj, name, value)
    return value


def _guarded_getitem(obj: Any, index: Any) -> Any:
    if isinstance(index, str) and index.startswith("_") and not isinstance(obj, dict):
        raise ScriptRefusedError(f"item '{index}' is not allowed in process scripts.")
    return obj[index]


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MEMORY_CHECK_SECONDS = 0.005


def _resident_bytes() -> int | None:
    """The process's resident set size, or None where /proc is not available."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


class _Budget:
    """The per-run limits: a wall-clock deadline, a number of steps, memory growth."""

    def __init__(self) -> None:
        now = time.monotonic()
        self.deadline = now + TIME_LIMIT_SECONDS
        self.steps = STEP_LIMIT
        self.next_memory_check = now + _MEMORY_CHECK_SECONDS
        self.resident_at_start = _resident_bytes()

    def tick(self, value: Any = None) -> Any:
        self.steps -= 1
        if self.steps < 0:
            raise ScriptBudgetExceeded(f"the script ran more than {STEP_LIMIT:,} loop iterations and calls")
        now = time.monotonic()
        if now > self.deadline:
            raise ScriptBudgetExceeded(f"the script ran longer than {TIME_LIMIT_SECONDS:g} s")
        if now > self.next_memory_check and self.resident_at_start is not None:
            self.next_memory_check = now + _MEMORY_CHECK_SECONDS
            resident = _resident_bytes()
            if resident is not None and resident - self.resident_at_start > MEMORY_LIMIT_BYTES:
                raise ScriptBudgetExceeded(
                    f"the script used more than {MEMORY_LIMIT_BYTES // 2**20} MB of memory"
                )
        return value

    def getiter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        if isinstance(iterable, (types.ModuleType, types.FrameType, types.TracebackType)):
            raise ScriptRefusedError("iterating this object is not allowed in process scripts.")
        for item in iter(iterable):
            self.tick()
            yield item


def _guards(budget: _Budget) -> dict[str, Any]:
    return {
        "_getattr_": _guarded_getattr,
        "_getitem_": _guarded_getitem,
        "_getiter_": budget.getiter,
        "_write_": full_write_guard,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_inplacevar_": _inplacevar,
        "_binop_": _binop,
        "_apply_": _apply,
        "_tick_": budget.tick,
    }


_GUARD_NAMES = frozenset(_guards(_Budget()))


def check_source(source: str, mode: str = "exec") -> types.CodeType:
    """Compile ``source`` after refusing anything outside the restricted subset."""
    return _compile(source, mode)


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> types.CodeType:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, "<script>", policy=_PolisPolicy)
    if result.errors or result.code is None:
        errors = "; ".join(_plain(e) for e in result.errors) or "the script does not compile"
        raise ScriptRefusedError(errors)
    return result.code


def _plain(error: str) -> str:
    """RestrictedPython's messages, reworded for process authors."""
    error = error.replace(", that is forbidden to access in RestrictedPython", " and is not allowed")
    if "SyntaxError" in error:
        return "syntax error " + error[0].lower() + error[1:]
    return error


class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Evaluates expressions and runs scripts under RestrictedPython with a per-run budget."""

    def __init__(self) -> None:
        super().__init__(dict(_ALLOWED_GLOBALS))

    def _namespace(
        self, context: dict[str, Any], external: dict[str, Any] | None, budget: _Budget
    ) -> dict[str, Any]:
        builtins = {**_SAFE_BUILTINS, "range": _bounded_range, "getattr": _guarded_getattr}
        namespace: dict[str, Any] = {"__builtins__": builtins}
        namespace.update(self.globals)
        namespace.update(external or {})
        namespace.update(context)
        namespace.update(_guards(budget))
        return namespace

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        """Evaluate one expression against a copy of the task data."""
        code = _compile(expression.strip(), "eval")
        budget = _Budget()
        namespace = self._namespace(context, external_context, budget)
        try:
            return eval(code, namespace)  # noqa: S307 - RestrictedPython, see module docstring
        except ScriptBudgetExceeded as exc:
            raise ScriptRefusedError(f"{exc}; the expression was stopped.") from None

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        """Run a script; the names it assigns become task data."""
        self.check_for_overwrite(context, external_context or {})
        code = _compile(script, "exec")
        budget = _Budget()
        namespace = self._namespace(context, external_context, budget)
        try:
            exec(code, namespace)  # noqa: S102 - RestrictedPython, see module docstring
        except ScriptBudgetExceeded as exc:
            raise ScriptRefusedError(f"{exc}; the script was stopped.") from None
        for key in ("__builtins__", *self.globals, *(external_context or {}), *_GUARD_NAMES):
            namespace.pop(key, None)
        context.clear()
        context.update({k: v for k, v in namespace.items() if not callable(v)})
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks never run inside the script engine; engine.workflow.service_tasks runs them."""
        raise ScriptRefusedError("service tasks are run by the Polis job queue, not by scripts")


#: One shared engine: it holds no per-case state. Set it on every workflow after restore.
SCRIPT_ENGINE = PythonScriptEngine(environment=RestrictedEnvironment())
