"""XML namespaces and small helpers shared by the BPMN loading modules."""

from __future__ import annotations

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"bpmn": BPMN, "camunda": CAMUNDA, "zeebe": ZEEBE, "spiffworkflow": SPIFF}


def tag(local: str) -> str:
    """The Clark name of a BPMN model element."""
    return f"{{{BPMN}}}{local}"


def local_name(element: etree._Element) -> str:
    """The tag of ``element`` without its namespace."""
    return str(etree.QName(element).localname)


def in_bpmn(element: etree._Element) -> bool:
    """Whether ``element`` is from the BPMN model namespace (not DI, not an extension)."""
    return isinstance(element.tag, str) and etree.QName(element).namespace == BPMN


def label(element: etree._Element) -> tuple[str, str]:
    """The (id, name) pair used in error messages."""
    return element.get("id", ""), (element.get("name") or "").strip()
