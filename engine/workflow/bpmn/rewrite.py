"""Rewrite Camunda-style BPMN into what SpiffWorkflow executes, on a copy of the XML.

The original XML (with its diagram interchange) is stored untouched; only the parsed copy
is changed:

* timer literals (``P3D``, ``R3/PT1H``, ``2026-05-01T09:00:00Z``) become Python string
  literals, because SpiffWorkflow evaluates a timer's text as an expression;
* JUEL conditions (``${amount > 100 && urgent}``) become Python expressions;
* an activity or event with several unconditional outgoing flows (an implicit parallel
  split, which Camunda runs and SpiffWorkflow refuses) gets an explicit parallel gateway.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from engine.workflow.bpmn.names import label, local_name, tag
from engine.workflow.errors import Problem

# Anything shaped like an ISO 8601 duration, cycle or date is a literal (as in Camunda);
# a malformed literal is then reported by the timer check instead of failing at run time.
_ISO_TIMER = re.compile(r"^(R\d*/\S+|P\S*|\d{4}-\d{2}-\d{2}\S*|\d{4}-?W\d{2}\S*)$")
_JUEL = re.compile(r"^[$#]\{(.*)\}$", re.DOTALL)
_JUEL_WORDS = [
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
    (re.compile(r"\bnull\b"), "None"),
    (re.compile(r"\btrue\b"), "True"),
    (re.compile(r"\bfalse\b"), "False"),
    (re.compile(r"\beq\b"), "=="),
    (re.compile(r"\bne\b"), "!="),
    (re.compile(r"\bempty\s+(\w+)"), r"(not \1)"),
]
_GATEWAYS = {
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}


def juel_to_python(text: str) -> str:
    """Translate a Camunda JUEL expression (``${...}``) to Python; other text is kept."""
    stripped = text.strip()
    match = _JUEL.match(stripped)
    if not match:
        return stripped
    expression = match.group(1).strip()
    for pattern, replacement in _JUEL_WORDS:
        expression = pattern.sub(replacement, expression)
    return " ".join(expression.split())


def timer_to_python(text: str) -> str:
    """Turn a timer definition as Camunda accepts it into a Python expression."""
    stripped = text.strip()
    if _JUEL.match(stripped):
        return juel_to_python(stripped)
    if _ISO_TIMER.match(stripped):
        return repr(stripped)
    return stripped


def rewrite_for_spiff(
    original: etree._ElementTree,
) -> tuple[etree._ElementTree, list[Problem]]:
    """Return an executable copy of ``original`` and the problems found while rewriting."""
    tree = copy.deepcopy(original)
    root = tree.getroot()
    for timer in root.iter(tag("timeDuration"), tag("timeDate"), tag("timeCycle")):
        if timer.text:
            timer.text = timer_to_python(timer.text)
    for condition in root.iter(tag("conditionExpression")):
        if condition.text:
            condition.text = juel_to_python(condition.text)
    problems: list[Problem] = []
    for container in root.iter(*(tag(c) for c in _CONTAINERS)):
        problems.extend(_make_splits_explicit(container))
    return tree, problems


def _make_splits_explicit(container: etree._Element) -> list[Problem]:
    problems: list[Problem] = []
    flows = [child for child in container if child.tag == tag("sequenceFlow")]
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in flows:
        outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
    nodes = {child.get("id"): child for child in container if isinstance(child.tag, str)}
    for source_id, source_flows in outgoing.items():
        node = nodes.get(source_id)
        if node is None or len(source_flows) < 2 or local_name(node) in _GATEWAYS:
            continue
        if any(f.find(tag("conditionExpression")) is not None for f in source_flows):
            element_id, name = label(node)
            problems.append(
                Problem(
                    element_id,
                    name,
                    "has several outgoing flows with conditions (conditional flows straight "
                    "from an activity). Draw an exclusive or inclusive gateway after it and "
                    "put the conditions on the gateway's outgoing flows.",
                )
            )
            continue
        _insert_parallel_gateway(container, node, source_flows)
    return problems


def _insert_parallel_gateway(
    container: etree._Element, node: etree._Element, source_flows: list[etree._Element]
) -> None:
    node_id = node.get("id", "")
    gateway_id = f"{node_id}__implicit_split"
    link_id = f"{gateway_id}__in"
    # New elements go right after the node and existing <outgoing> refs are replaced in
    # place, so the copy keeps the element order the BPMN schema prescribes.
    gateway = etree.Element(tag("parallelGateway"), id=gateway_id)
    link = etree.Element(tag("sequenceFlow"), id=link_id, sourceRef=node_id, targetRef=gateway_id)
    node.addnext(link)
    node.addnext(gateway)
    refs = node.findall(tag("outgoing"))
    for extra in refs[1:]:
        node.remove(extra)
    if refs:
        refs[0].text = link_id
    etree.SubElement(gateway, tag("incoming")).text = link_id
    for flow in source_flows:
        flow.set("sourceRef", gateway_id)
        etree.SubElement(gateway, tag("outgoing")).text = flow.get("id")


__all__ = ["juel_to_python", "rewrite_for_spiff", "timer_to_python"]
