"""Small BPMN documents for tests, written the way Camunda Modeler writes them."""

from __future__ import annotations

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)


def process(body: str, lanes: dict[str, list[str]] | None = None, process_id: str = "p") -> bytes:
    """A definitions document holding one executable process with optional lanes."""
    lane_xml = ""
    if lanes:
        lane_xml = (
            '<bpmn:laneSet id="ls">'
            + "".join(
                f'<bpmn:lane id="lane_{name}" name="{name}">'
                + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
                + "</bpmn:lane>"
                for name, refs in lanes.items()
            )
            + "</bpmn:laneSet>"
        )
    pid = f' id="{process_id}"' if process_id else ""
    return (
        HEAD + f'<bpmn:process{pid} name="Test" isExecutable="true">{lane_xml}{body}</bpmn:process>'
        "</bpmn:definitions>"
    ).encode()


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    """A sequence flow, optionally with a condition expression."""
    fid = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
