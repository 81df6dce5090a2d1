"""The script sandbox against a corpus of known Python sandbox escapes and resource bombs.

Each entry must be refused with a ScriptRefusedError (or, for names that simply do not exist
in the sandbox, a NameError) — and none may reach the operating system.
"""

from __future__ import annotations

import time

import pytest

from engine.workflow.errors import ScriptRefusedError
from engine.workflow.scripting import SCRIPT_ENGINE, TIME_LIMIT_SECONDS, check_source

ENV = SCRIPT_ENGINE.environment

# The exploit from issue 13: a generator's frame leads to the caller's builtins.
ISSUE_EXPLOIT = (
    "gen=None\n"
    "gen=(gen.gi_frame.f_back.f_back.f_builtins for _ in [0])\n"
    "b=list(gen)[0]\n"
    'uid=b["__import__"]("os").getuid()'
)

ESCAPES: dict[str, tuple[str, str, str]] = {
    # name: (mode, source, expected message fragment)
    "issue exploit (generator gi_frame)": ("exec", ISSUE_EXPLOIT, '"f_builtins" is a restricted name'),
    "generator gi_frame alone": ("eval", "(x for x in [1]).gi_frame", '"gi_frame" is a restricted name'),
    "generator gi_code": ("eval", "(x for x in [1]).gi_code", '"gi_code" is a restricted name'),
    "generator function": ("exec", "def g():\n    yield 1", "generators ('yield')"),
    "traceback frame": (
        "exec",
        "try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
        "starts with",
    ),
    "exception with_traceback": ("exec", "x = ValueError().with_traceback", "'with_traceback'"),
    "frame f_back/f_builtins via getattr": (
        "eval",
        "getattr(getattr((x for x in [1]), 'gi_frame'), 'f_back')",
        "'gi_frame' is not allowed",
    ),
    "format string attribute access": ("eval", "'{0.__class__}'.format(1)", "'format'"),
    "str.format on the type": ("eval", "str.format('{0.__class__}', 1)", "'format'"),
    "str.format_map": ("eval", "'{a.__class__}'.format_map({'a': 1})", "'format_map'"),
    "f-string computed spec": ("eval", "f'{1:{x}}'", "computed format specs"),
    "__subclasses__ via getattr string": ("eval", "getattr(str, '__subclasses__')", "'__subclasses__'"),
    "__class__ via getattr string": ("eval", "getattr((), '__cla' + 'ss__')", "'__class__'"),
    "dunder attribute": ("eval", "().__class__.__bases__[0].__subclasses__()", "starts with"),
    "mro to object": ("eval", "str.mro()[-1]", "'mro'"),
    "decorator": ("exec", "@len\ndef f():\n    return 1", "decorators are not allowed"),
    "lambda default": ("exec", "f = lambda x=().__class__: x", "starts with"),
    "lambda default frame": (
        "exec",
        "f = lambda g=(y for y in [1]): g.gi_frame",
        '"gi_frame" is a restricted name',
    ),
    "function globals": ("eval", "(lambda: 1).__globals__", "starts with"),
    "function attributes by name": ("eval", "getattr(len, 'self')", "builtin_function_or_method"),
    "import": ("exec", "import os", "imports are not allowed"),
    "from import": ("exec", "from os import system", "imports are not allowed"),
    "dunder import name": ("eval", "__import__('os')", "starts with"),
    "class definition": ("exec", "class A:\n    pass", "classes are not allowed"),
    "global": ("exec", "def f():\n    global x\n    x = 1", "'global'"),
    "with": ("exec", "with x:\n    pass", "context managers"),
    "exec": ("eval", "exec('1')", "Exec calls are not allowed"),
    "eval": ("eval", "eval('1')", "Eval calls are not allowed"),
    "bare except (could swallow the budget)": (
        "exec",
        "try:\n    x = 1\nexcept:\n    pass",
        "bare 'except:'",
    ),
    "huge f-string width": ("eval", "f'{1:>999999999}'", "format widths above"),
}

RUNTIME_BOMBS: dict[str, tuple[str, str, str]] = {
    "huge range": ("eval", "len(range(10**10))", "a range larger than the limit"),
    "string repetition": ("eval", "len('a' * 10**10)", "a sequence larger than the limit"),
    "list repetition": ("eval", "len([0] * 10**10)", "a sequence larger than the limit"),
    "integer power": ("eval", "10 ** 10 ** 8", "an integer larger than the limit"),
    "integer shift": ("eval", "1 << 10**9", "an integer larger than the limit"),
    "doubling": ("exec", "s = 'a' * 1000\nfor i in range(40):\n    s += s", "larger than the limit"),
    "join amplification": ("exec", "x = ''.join(['a' * 1000000] * 1000)", "a string larger than the limit"),
    "replace amplification": ("exec", "s = 'a' * 100000\nx = s.replace('', s)", "a string larger"),
    "ljust": ("eval", "'a'.ljust(10**10)", "a string larger than the limit"),
    "extend doubling": ("exec", "l = [0] * 1000000\nl.extend(l)", "a list larger than the limit"),
    "memory by copies": (
        "exec",
        "l = [0] * 1000000\nm = [list(l) for _ in range(1000)]",
        # whichever limit a loaded machine reaches first
        "MB of memory|ran longer than",
    ),
    "infinite loop": ("exec", "while True:\n    pass", "loop iterations and calls|ran longer than"),
    "infinite loop catching everything it can": (
        "exec",
        "while True:\n    try:\n        x = 1\n    except Exception:\n        pass",
        "loop iterations and calls|ran longer than",
    ),
    "exponential recursion": (
        "exec",
        "def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\nx = f(60)",
        "loop iterations and calls|ran longer than",
    ),
    "lambda recursion": (
        "exec",
        "f = lambda n: f(n - 1) + f(n - 1) if n else 1\nx = f(60)",
        "loop iterations|ran longer than",
    ),
    "slow steps": (
        "exec",
        "l = list(range(10**6))\nwhile True:\n    m = sorted(l, reverse=True)",
        "ran longer than",
    ),
}


def _run(mode: str, source: str) -> object:
    if mode == "eval":
        return ENV.evaluate(source, {})
    return ENV.execute(source, {})


@pytest.mark.parametrize("name", list(ESCAPES))
def test_known_escapes_are_refused(name: str) -> None:
    mode, source, message = ESCAPES[name]
    with pytest.raises(ScriptRefusedError) as refused:
        _run(mode, source)
    assert message in str(refused.value)


# Refused by the guards when run (the attribute name is computed, or only dangerous on some
# objects); every other escape is refused when the BPMN file is deployed.
REFUSED_WHEN_RUN = {
    "exception with_traceback",
    "frame f_back/f_builtins via getattr",
    "format string attribute access",
    "str.format on the type",
    "str.format_map",
    "__subclasses__ via getattr string",
    "__class__ via getattr string",
    "mro to object",
    "function attributes by name",
}


@pytest.mark.parametrize("name", [n for n in ESCAPES if n not in REFUSED_WHEN_RUN])
def test_escapes_are_refused_at_deploy_time(name: str) -> None:
    mode, source, _message = ESCAPES[name]
    with pytest.raises(ScriptRefusedError):
        check_source(source, mode)


@pytest.mark.parametrize("name", list(RUNTIME_BOMBS))
def test_resource_bombs_are_stopped(name: str) -> None:
    mode, source, message = RUNTIME_BOMBS[name]
    started = time.monotonic()
    with pytest.raises(ScriptRefusedError) as refused:
        _run(mode, source)
    assert any(option in str(refused.value) for option in message.split("|")), refused.value
    assert time.monotonic() - started < TIME_LIMIT_SECONDS + 2


def test_the_issue_exploit_never_reaches_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def tripwire() -> int:
        raise AssertionError("the sandbox escape ran os.getuid()")

    monkeypatch.setattr(os, "getuid", tripwire)
    context: dict[str, object] = {}
    with pytest.raises(ScriptRefusedError):
        ENV.execute(ISSUE_EXPLOIT, context)
    assert "uid" not in context


def test_unknown_builtins_do_not_exist() -> None:
    for source in ("type(1)", "object", "open('/etc/passwd')", "vars()", "globals()", "dir()"):
        with pytest.raises(NameError):
            ENV.evaluate(source, {})


def test_ordinary_scripts_and_conditions_still_work() -> None:
    assert ENV.evaluate("decision == 'approve'", {"decision": "approve"}) is True
    assert ENV.evaluate("amount > 100 and urgent", {"amount": 150, "urgent": True}) is True
    context = {"items": [1, 2, 3], "name": "Ελένη"}
    ENV.execute(
        "total = sum(x * 2 for x in items)\n"
        "labels = [str(i) for i in range(3)]\n"
        "joined = ', '.join(labels)\n"
        "due = date(2026, 1, 1) + timedelta(days=3)\n"
        "padded = f'{total:>5}'\n"
        "greeting = f'Καλημέρα {name.upper()}'\n"
        "fee = Decimal('2.50') * 2\n"
        "counts = {}\n"
        "for i in items:\n"
        "    counts[str(i)] = i\n"
        "n = 0\n"
        "while n < 10:\n"
        "    n += 1\n"
        "try:\n"
        "    bad = int('x')\n"
        "except ValueError:\n"
        "    bad = -1\n"
        "first, *rest = items\n"
        "ordered = sorted(items, key=lambda x: -x)\n"
        "def double(v):\n"
        "    return v * 2\n"
        "doubled = double(21)\n",
        context,
    )
    assert context["total"] == 12
    assert context["joined"] == "0, 1, 2"
    assert context["padded"] == "   12"
    assert context["greeting"] == "Καλημέρα ΕΛΈΝΗ"
    assert str(context["fee"]) == "5.00"
    assert context["counts"] == {"1": 1, "2": 2, "3": 3}
    assert context["n"] == 10
    assert context["bad"] == -1
    assert context["rest"] == [2, 3]
    assert context["ordered"] == [3, 2, 1]
    assert context["doubled"] == 42
    assert not any(key.startswith("_") for key in context)


def test_citizen_data_is_never_compiled() -> None:
    data = {"name": "__import__('os').system('echo pwned')"}
    assert ENV.evaluate("name", data) == data["name"]
