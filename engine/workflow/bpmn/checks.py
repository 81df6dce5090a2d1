"""Deploy-time checks: refuse what Polis cannot execute, naming the element and the fix."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.workflow.bpmn.names import CAMUNDA, SPIFF, ZEEBE, in_bpmn, label, local_name, tag
from engine.workflow.errors import Problem, ScriptRefusedError
from engine.workflow.scripting import check_source

FLOW_NODES = frozenset(
    [
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "callActivity",
        "subProcess",
        "transaction",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
    ]
)
OTHER_PROCESS_CHILDREN = frozenset(
    [
        "sequenceFlow",
        "laneSet",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "documentation",
        "extensionElements",
        "property",
        "ioSpecification",
    ]
)
UNSUPPORTED_HINTS = {
    "complexGateway": "use an inclusive or exclusive gateway with conditions",
    "businessRuleTask": "Polis has no DMN engine; use a script task or a service task",
    "dataStoreReference": "keep the data in the case (task data) or call a service task",
    "adHocSubProcess": "model the steps as an ordinary sub-process",
    "compensateEventDefinition": "model the undo step explicitly with a gateway",
    "dataStore": "keep the data in the case (task data) or call a service task",
}


#: Task spec names SpiffWorkflow creates in every process; an element with such an id would
#: silently replace them (a start event with id "Start" disconnects the process).
RESERVED_IDS = frozenset({"Start", "End", "Root"})


def service_handler_name(node: etree._Element) -> str | None:
    """The registered handler a service task calls, read from Camunda, Zeebe or Spiff markup."""
    for attribute in ("topic", "delegateExpression", "class", "expression"):
        value = node.get(f"{{{CAMUNDA}}}{attribute}")
        if value:
            value = value.strip()
            if value.startswith(("${", "#{")) and value.endswith("}"):
                value = value[2:-1]
            return str(value).strip() or None
    for definition in node.iter(f"{{{ZEEBE}}}taskDefinition"):
        if definition.get("type"):
            return str(definition.get("type"))
    for operator in node.iter(f"{{{SPIFF}}}serviceTaskOperator"):
        if operator.get("id"):
            return str(operator.get("id"))
    implementation = node.get("implementation", "")
    if implementation and not implementation.startswith("##") and "://" not in implementation:
        return str(implementation)
    return None


#: Extension property of an approval task naming the preparation tasks whose performer may
#: not complete it (four-eyes rule), e.g. ``<camunda:property name="polis:fourEyesAfter"
#: value="review review_escalated"/>``.
FOUR_EYES_PROPERTY = "polis:fourEyesAfter"


def four_eyes_after(node: etree._Element) -> tuple[str, ...]:
    """The preparation task ids a user task's four-eyes property names (empty if none)."""
    names: list[str] = []
    for prop in node.iter(f"{{{CAMUNDA}}}property"):
        if (prop.get("name") or "").strip() == FOUR_EYES_PROPERTY:
            names.extend((prop.get("value") or "").replace(",", " ").split())
    return tuple(dict.fromkeys(names))


def input_parameters(node: etree._Element) -> dict[str, Any]:
    """A service task's literal input parameters (Camunda's ``camunda:inputOutput``).

    Text values stay strings; ``camunda:list`` becomes a list and ``camunda:map`` a dict.
    Expressions (``${...}``) are not evaluated: a value that is exactly ``${key}`` names a key of
    the case data, resolved when the task runs (see engine.workflow.service_tasks.resolve_params).
    """
    params: dict[str, Any] = {}
    for parameter in node.iter(f"{{{CAMUNDA}}}inputParameter"):
        name = (parameter.get("name") or "").strip()
        if name:
            params[name] = _parameter_value(parameter)
    return params


def _parameter_value(element: etree._Element) -> Any:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        kind = etree.QName(child).localname
        if kind == "list":
            return [_parameter_value(item) for item in child if isinstance(item.tag, str)]
        if kind == "map":
            return {
                (entry.get("key") or ""): _parameter_value(entry)
                for entry in child
                if isinstance(entry.tag, str)
            }
    return (element.text or "").strip()


def form_key(node: etree._Element) -> str | None:
    """The form a user task shows, from ``camunda:formKey`` or a Zeebe form definition."""
    value = node.get(f"{{{CAMUNDA}}}formKey")
    if value:
        return str(value).strip()
    for definition in node.iter(f"{{{ZEEBE}}}formDefinition"):
        if definition.get("formKey"):
            return str(definition.get("formKey"))
    return None


def lane_of_nodes(process: etree._Element) -> dict[str, str]:
    """Map flow node ids to the name of the innermost lane that holds them."""
    lanes: dict[str, str] = {}
    for lane in process.iter(tag("lane")):
        name = (lane.get("name") or lane.get("id") or "").strip()
        for ref in lane.findall(tag("flowNodeRef")):
            lanes[(ref.text or "").strip()] = name  # inner lanes come later and win
    return lanes


def check_process(process: etree._Element, known_lanes: Collection[str] | None) -> list[Problem]:
    """Every problem in one process (and its sub-processes) that would stop it running."""
    problems: list[Problem] = []
    lanes = lane_of_nodes(process)
    flows = list(process.iter(tag("sequenceFlow")))
    for element in process.iter():
        if not in_bpmn(element):
            continue
        name = local_name(element)
        element_id, element_name = label(element)
        if element_id in RESERVED_IDS or element_id.endswith(".EndJoin"):
            problems.append(
                Problem(
                    element_id,
                    element_name,
                    f"the id '{element_id}' is reserved by the engine; rename it (e.g. {name}_1).",
                )
            )
        if name in UNSUPPORTED_HINTS:
            problems.append(
                Problem(
                    element_id,
                    element_name,
                    f"bpmn:{name} is not supported; {UNSUPPORTED_HINTS[name]}.",
                )
            )
            continue
        parent = element.getparent()
        if (
            parent is not None
            and local_name(parent) in ("process", "subProcess", "transaction")
            and name not in FLOW_NODES
            and name not in OTHER_PROCESS_CHILDREN
        ):
            problems.append(
                Problem(
                    element_id,
                    element_name,
                    f"bpmn:{name} is not supported by Polis; replace it with a task, event or gateway.",
                )
            )
            continue
        if name == "userTask":
            problems.extend(_check_user_task(element, lanes, known_lanes))
        elif name == "serviceTask" and service_handler_name(element) is None:
            problems.append(
                Problem(
                    element_id,
                    element_name,
                    "service task names no handler; set its implementation to External with a "
                    "topic (camunda:topic) naming a registered Polis handler, e.g. notify_applicant.",
                )
            )
        elif name == "scriptTask":
            problems.extend(_check_script(element))
        elif name in ("exclusiveGateway", "inclusiveGateway"):
            problems.extend(_check_gateway(element, flows))
        elif name == "conditionExpression":
            problems.extend(
                _check_expression(
                    parent if parent is not None else element,
                    element.text or "",
                    "condition",
                )
            )
        elif name in ("timeDuration", "timeDate", "timeCycle"):
            problems.extend(_check_timer(element, name))
    return problems


def _check_user_task(
    element: etree._Element, lanes: dict[str, str], known_lanes: Collection[str] | None
) -> list[Problem]:
    element_id, element_name = label(element)
    lane = lanes.get(element_id)
    if not lane:
        return [
            Problem(
                element_id,
                element_name,
                "user task is in no lane; Polis assigns work by lane, so draw the process in a pool "
                "with lanes (e.g. Clerk, Head) and put this task in one of them.",
            )
        ]
    if known_lanes is not None and lane not in known_lanes:
        return [
            Problem(
                element_id,
                element_name,
                f"lane '{lane}' has no role mapping; rename the lane to one of "
                f"{', '.join(sorted(known_lanes))} or add it to the lane configuration.",
            )
        ]
    return []


def _check_script(element: etree._Element) -> list[Problem]:
    element_id, element_name = label(element)
    script_format = (element.get("scriptFormat") or "python").lower()
    if script_format not in ("python", "py", "text/x-python"):
        return [
            Problem(
                element_id,
                element_name,
                f"script format '{script_format}' is not supported; write the script in Python.",
            )
        ]
    script = element.find(tag("script"))
    if script is None or not (script.text or "").strip():
        return [
            Problem(
                element_id,
                element_name,
                "script task has no script; write the Python code in its Script field.",
            )
        ]
    try:
        check_source(script.text or "", "exec")
    except ScriptRefusedError as exc:
        return [Problem(element_id, element_name, f"script does not compile: {exc}")]
    return []


def _check_expression(owner: etree._Element, text: str, what: str) -> list[Problem]:
    try:
        check_source(text.strip(), "eval")
    except ScriptRefusedError as exc:
        element_id, element_name = label(owner)
        return [
            Problem(
                element_id,
                element_name,
                f"{what} '{text.strip()}' is not a valid expression: {exc}",
            )
        ]
    return []


def _check_gateway(element: etree._Element, flows: list[etree._Element]) -> list[Problem]:
    element_id, element_name = label(element)
    outgoing = [f for f in flows if f.get("sourceRef") == element_id]
    if len(outgoing) < 2 or element.get("default"):
        return []
    missing = [
        f.get("name") or f.get("id", "") for f in outgoing if f.find(tag("conditionExpression")) is None
    ]
    if not missing:
        return []
    return [
        Problem(
            element_id,
            element_name,
            f"gateway has no default flow and its outgoing flow(s) {', '.join(missing)} have no "
            "condition; give each outgoing flow a condition (e.g. decision == 'approve') or mark "
            "one flow as the default.",
        )
    ]


def _check_timer(element: etree._Element, kind: str) -> list[Problem]:
    event = element.getparent()
    owner = event.getparent() if event is not None and event.getparent() is not None else element
    text = (element.text or "").strip()
    if not text:
        element_id, element_name = label(owner)
        return [
            Problem(
                element_id,
                element_name,
                f"timer has an empty {kind}; write e.g. P3D or PT5M.",
            )
        ]
    problems = _check_expression(owner, text, "timer")
    if problems or not (text.startswith("'") and text.endswith("'")):
        return problems
    literal = text[1:-1]
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(literal)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.parse_time_or_duration(literal)
    except Exception:
        element_id, element_name = label(owner)
        return [
            Problem(
                element_id,
                element_name,
                f"timer {kind} '{literal}' is not valid ISO 8601; write e.g. P3D, PT5M, "
                "R3/PT1H or 2026-05-01T09:00:00Z.",
            )
        ]
    return []
