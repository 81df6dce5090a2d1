"""Timer start events of a process: found and checked at deploy time, scheduled by Polis.

BPMN (and Camunda) start a *new process instance* at each occurrence of a timer start
event. SpiffWorkflow instead waits inside one instance and, for a cycle, loops in it. So
the executable copy of a process loses the timer definition of its start event (the case
runs at once when it starts) and engine.workflow.schedules starts a case at each occurrence.

Decisions, each refused at deploy with a message when broken:

* a process with a timer start event has no other start event at its top level (Polis
  would not know which one a case started from: draw the other start as its own process);
  a case started by hand (``start_case``) runs from the timer start event at once, as
  Camunda does when such a process is started through its API;
* the expression is a literal (see engine.workflow.timer_series): there is no case data yet;
* cases started by the clock need a department for their tasks: the extension property
  ``department`` (on the start event or the process) names it by code, e.g. ``PROT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from engine.workflow.bpmn.names import CAMUNDA, label, local_name, tag
from engine.workflow.errors import Problem
from engine.workflow.timer_series import KINDS, TimerExpressionError, parse_timer

HUMAN_TASKS = ("userTask", "manualTask")
#: Values of the extension property ``calendar`` of a timer start event.
CALENDARS = ("all_days", "working_days")


@dataclass(frozen=True)
class TimerStart:
    """A process's timer start event, as the schedule needs it."""

    element_id: str
    name: str
    kind: str  # timeDate, timeDuration, timeCycle
    expression: str
    department: str | None
    #: Occurrences on weekends and Greek public holidays start no case (property calendar).
    working_days_only: bool = False


def _start_events(process: etree._Element) -> list[etree._Element]:
    return list(process.iterfind(tag("startEvent")))


def _timer_of(event: etree._Element) -> etree._Element | None:
    return event.find(tag("timerEventDefinition"))


def _property(element: etree._Element, name: str) -> str | None:
    for prop in element.iterfind(f"{tag('extensionElements')}/{{{CAMUNDA}}}properties/{{{CAMUNDA}}}property"):
        if (prop.get("name") or "").strip() == name and (prop.get("value") or "").strip():
            return str(prop.get("value")).strip()
    return None


def find_timer_start(process: etree._Element, now: datetime) -> tuple[TimerStart | None, list[Problem]]:
    """The timer start event of ``process`` (original XML) and the problems it has."""
    starts = _start_events(process)
    timers = [event for event in starts if _timer_of(event) is not None]
    if not timers:
        return None, []
    event = timers[0]
    element_id, name = label(event)
    if len(starts) > 1:
        others = ", ".join(label(e)[0] for e in starts if e is not event)
        return None, [
            Problem(
                element_id,
                name,
                f"a process with a timer start event may have no other start event (found {others}); "
                "Polis starts each case from the timer. Move the other start into its own process.",
            )
        ]
    definition = _timer_of(event)
    assert definition is not None
    found = [child for child in definition if isinstance(child.tag, str) and local_name(child) in KINDS]
    if len(found) != 1:
        return None, [
            Problem(
                element_id,
                name,
                "timer start event needs exactly one of timeDate, timeDuration or timeCycle; "
                "set its Timer type and value (e.g. Cycle, R/P1D).",
            )
        ]
    kind, expression = local_name(found[0]), " ".join((found[0].text or "").split())
    problems: list[Problem] = []
    try:
        parse_timer(kind, expression, now)
    except TimerExpressionError as exc:
        problems.append(Problem(element_id, name, f"timer start {kind}: {exc}."))
    department = _property(event, "department") or _property(process, "department")
    if department is None and any(True for _ in process.iter(*(tag(t) for t in HUMAN_TASKS))):
        problems.append(
            Problem(
                element_id,
                name,
                "cases started by this timer need a department for their tasks; add the extension "
                "property department = CODE (Camunda Modeler: select the start event, Extension "
                "properties), e.g. department = PROT.",
            )
        )
    calendar = _property(event, "calendar") or _property(process, "calendar") or "all_days"
    if calendar not in CALENDARS:
        problems.append(
            Problem(
                element_id,
                name,
                f"extension property calendar = {calendar!r} is unknown; use working_days (no case on "
                "weekends and Greek public holidays) or all_days.",
            )
        )
    timer = TimerStart(element_id, name, kind, expression, department, calendar == "working_days")
    return timer, problems


def strip_timer_start(process: etree._Element) -> None:
    """Make the (executable copy's) timer start event a plain start: the schedule fires it."""
    for event in _start_events(process):
        definition = _timer_of(event)
        if definition is not None:
            event.remove(definition)
