"""Citizen-visible milestones, declared in the BPMN file itself (no code per process).

A process names the steps its applicant sees, in Camunda Modeler's extension properties:

- on a flow node, ``<camunda:property name="polis:milestone" value="under_review"/>`` (several
  codes separated by spaces are reached together, e.g. a start event's ``submitted registered``);
- on the process, ``polis:milestones`` — the ordered main path (``submitted registered
  under_review approved issued``), from which the tracking page draws the steps still ahead;
- on the process, one ``polis:milestone:<code>`` per code: ``Greek | English`` labels, optionally
  ``| Greek ahead | English ahead`` for how the step reads before it happens ("Issue of the
  document" rather than "Issued"), and ``polis:milestoneNow:<code>`` (``Greek | English``): what
  the page says while it is the current step;
- on the process, ``polis:citizenActs`` — codes where the case waits for the applicant;
- on the process, ``polis:finalMilestones`` — outcomes after which nothing is ahead (``issued
  rejected``), even while the last automatic steps still run.

A milestone is *reached* when the case enters its node (a task becomes ready, a gateway is
passed, an end event is reached) — or, for a catch event, when the event happens. The runtime
records one ``milestone`` audit event per reach (:func:`reached_milestones`, called by
``save_case``), so the tracking page reads the case's audit log and this parsed metadata only.
A node that waits (user, manual and receive tasks, event-based gateways) *dwells*: while it is
the last step reached, it is the current one. Parsing happens once per definition version (the
result is cached with the definition, see engine.workflow.definitions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.workflow.bpmn.names import CAMUNDA, local_name, tag
from engine.workflow.bpmn.safe_xml import parse_xml

NODE_PROPERTY = "polis:milestone"
PATH_PROPERTY = "polis:milestones"
LABEL_PREFIX = "polis:milestone:"
NOW_PREFIX = "polis:milestoneNow:"
CITIZEN_PROPERTY = "polis:citizenActs"
FINAL_PROPERTY = "polis:finalMilestones"
#: Nodes where a case waits: a milestone on one of them stays current while it is the last.
_DWELLING_KINDS = frozenset({"userTask", "manualTask", "receiveTask", "eventBasedGateway"})
#: Nodes reached when their event happens, not when the case starts waiting for it.
_ON_EVENT_KINDS = frozenset({"intermediateCatchEvent", "boundaryEvent"})
_MARK = "polis_milestone"
_ENTERED = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.COMPLETED


@dataclass(frozen=True)
class MilestoneLabel:
    """How one milestone reads, in Greek and English: reached, ahead, and while current."""

    el: str
    en: str
    ahead_el: str
    ahead_en: str
    now_el: str = ""
    now_en: str = ""

    def text(self, locale: str, *, ahead: bool = False) -> str:
        """The label in ``locale`` (el or en), in its "ahead" form if the step has not happened."""
        if ahead:
            return self.ahead_en if locale == "en" else self.ahead_el
        return self.en if locale == "en" else self.el

    def now(self, locale: str) -> str:
        """What the page says while this is the current step ('' if the process says nothing)."""
        return self.now_en if locale == "en" else self.now_el


@dataclass(frozen=True)
class ProcessMilestones:
    """A process version's milestone declarations (empty: the process declares none)."""

    #: BPMN node id -> the codes reached there.
    nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Node ids reached when their event happens (catch events).
    on_event: frozenset[str] = frozenset()
    #: Codes whose node waits.
    dwelling: frozenset[str] = frozenset()
    path: tuple[str, ...] = ()
    labels: dict[str, MilestoneLabel] = field(default_factory=dict)
    citizen_acts: frozenset[str] = frozenset()
    #: Outcomes: once one is reached, no step is current or ahead.
    final: frozenset[str] = frozenset()

    def label(self, code: str) -> MilestoneLabel:
        """The labels of ``code`` (the code itself if the process gives none)."""
        return self.labels.get(code) or MilestoneLabel(code, code, code, code)


NO_MILESTONES = ProcessMilestones()


def _properties(element: etree._Element) -> list[tuple[str, str]]:
    """The element's own camunda:property pairs (not those of nested nodes)."""
    found = []
    for extension in element.findall(tag("extensionElements")):
        for prop in extension.iterfind(f"{{{CAMUNDA}}}properties/{{{CAMUNDA}}}property"):
            found.append(((prop.get("name") or "").strip(), (prop.get("value") or "").strip()))
    return found


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|")]


def milestones_of_process(process: etree._Element) -> tuple[ProcessMilestones, list[str]]:
    """Parse the declarations of one ``<bpmn:process>``; also every problem found (in words)."""
    problems: list[str] = []
    nodes: dict[str, tuple[str, ...]] = {}
    on_event: set[str] = set()
    dwelling: set[str] = set()
    for node in process.iter():
        if not isinstance(node.tag, str) or node is process:
            continue
        codes = [c for name, value in _properties(node) if name == NODE_PROPERTY for c in value.split()]
        if codes and node.get("id"):
            nodes[str(node.get("id"))] = tuple(codes)
            kind = local_name(node)
            if kind in _ON_EVENT_KINDS:
                on_event.add(str(node.get("id")))
            if kind in _DWELLING_KINDS:
                dwelling.update(codes)
    props = _properties(process)
    path = tuple(code for name, value in props if name == PATH_PROPERTY for code in value.split())
    citizen = frozenset(code for name, value in props if name == CITIZEN_PROPERTY for code in value.split())
    final = frozenset(code for name, value in props if name == FINAL_PROPERTY for code in value.split())
    now = {
        name.removeprefix(NOW_PREFIX): _split(value) for name, value in props if name.startswith(NOW_PREFIX)
    }
    labels: dict[str, MilestoneLabel] = {}
    for name, value in props:
        if not name.startswith(LABEL_PREFIX):
            continue
        code, parts = name.removeprefix(LABEL_PREFIX), _split(value)
        if len(parts) not in (2, 4) or not all(parts):
            problems.append(
                f"property {name}: write 'Greek | English' or"
                " 'Greek | English | Greek ahead | English ahead'."
            )
            continue
        el, en = parts[0], parts[1]
        ahead_el, ahead_en = (parts[2], parts[3]) if len(parts) == 4 else (el, en)
        now_el, now_en = [*now.get(code, []), "", ""][:2]
        labels[code] = MilestoneLabel(el, en, ahead_el, ahead_en, now_el, now_en or now_el)
    used = {code for codes in nodes.values() for code in codes} | set(path) | citizen | final
    for code in sorted(used - set(labels)):
        problems.append(f"milestone {code!r} has no labels: add the process property {LABEL_PREFIX}{code}.")
    reached_somewhere = {code for codes in nodes.values() for code in codes}
    for code in path:
        if code not in reached_somewhere:
            problems.append(f"{PATH_PROPERTY}: {code!r} is on no node (polis:milestone) of the process.")
    declared = ProcessMilestones(
        nodes, frozenset(on_event), frozenset(dwelling), path, labels, citizen, final
    )
    return (declared if nodes else NO_MILESTONES), problems


def parse_milestones(xml: bytes, process_id: str) -> ProcessMilestones:
    """The declarations of process ``process_id`` in a (deployed, already checked) BPMN file."""
    root = parse_xml(xml).getroot()
    for process in root.iter(tag("process")):
        if process.get("id") == process_id:
            return milestones_of_process(process)[0]
    return NO_MILESTONES


def reached_milestones(workflow: BpmnWorkflow, milestones: ProcessMilestones) -> list[str]:
    """Codes the case reached since it was last saved (each node instance counts once: a node
    entered again, e.g. a review after a document arrived, is reached again)."""
    if not milestones.nodes:
        return []
    codes: list[str] = []
    for task in workflow.get_tasks(state=_ENTERED):
        node = getattr(task.task_spec, "bpmn_id", None)
        found = milestones.nodes.get(node) if node else None
        if not found or task.internal_data.get(_MARK):
            continue
        if node in milestones.on_event and task.state != TaskState.COMPLETED:
            continue
        task.internal_data[_MARK] = True
        codes.extend(found)
    return codes
