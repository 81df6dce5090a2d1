"""Every shipped process deploys, is fully drawn (opens in bpmn.io) and has its own run test."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.workflow.bpmn.names import BPMN
from engine.workflow.definitions import PROCESSES_DIR, validate_file

DI = "http://www.omg.org/spec/BPMN/20100524/DI"
FILES = sorted(PROCESSES_DIR.glob("*.bpmn"))
TESTS = Path(__file__).parent
DRAWN = [
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
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "lane",
    "participant",
]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_process_validates(path: Path) -> None:
    validate_file(path.read_bytes(), path.name)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_element_is_drawn(path: Path) -> None:
    root = etree.fromstring(path.read_bytes())
    drawn = {e.get("bpmnElement") for e in root.iter(f"{{{DI}}}BPMNShape", f"{{{DI}}}BPMNEdge")}
    wanted = {e.get("id") for name in DRAWN for e in root.iter(f"{{{BPMN}}}{name}")}
    wanted |= {e.get("id") for e in root.iter(f"{{{BPMN}}}sequenceFlow")}
    assert wanted - drawn == set(), "elements without a shape or edge in the diagram"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_process_has_a_run_to_completion_test(path: Path) -> None:
    assert list(TESTS.parent.glob(f"**/test_{path.stem}.py")), (
        f"add tests/<area>/test_{path.stem}.py running {path.name} to completion through the database"
    )
