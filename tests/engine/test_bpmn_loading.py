"""Deploy-time BPMN loading: safe XML, Camunda compatibility, refusals with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.workflow.bpmn.loader import compile_definition
from engine.workflow.bpmn.rewrite import juel_to_python, timer_to_python
from engine.workflow.errors import DeploymentError, ScriptRefusedError, UnsafeXmlError
from engine.workflow.scripting import SCRIPT_ENGINE
from engine.workflow.serialization import new_workflow
from tests.engine.bpmn_builder import flow, process

LANES = {"Clerk", "Head", "Substitute"}
PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def compile_bytes(data: bytes) -> object:
    return compile_definition(data, "test.bpmn", LANES)


def test_document_approval_loads_with_its_diagram() -> None:
    data = (PROCESSES / "document_approval.bpmn").read_bytes()
    definition = compile_definition(data, "document_approval.bpmn", LANES)
    assert definition.process_id == "document_approval"
    assert definition.original_xml == data and b"BPMNDiagram" in definition.original_xml
    assert definition.tasks["Task_Review"].lane == "Head"
    assert definition.tasks["Task_Prepare"].form_key == "document_prepare"


def test_xxe_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>'
    )
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        compile_bytes(data)


def test_billion_laughs_is_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};">' for i in range(1, 10))
    data = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "ha">{entities}]><d>&l9;</d>'.encode()
    with pytest.raises(UnsafeXmlError):
        compile_bytes(data)


def test_not_xml_is_refused() -> None:
    with pytest.raises(UnsafeXmlError, match="not well-formed XML"):
        compile_bytes(b"%PDF-1.7 this is not a diagram")


def test_camunda_timer_literals_and_juel_are_rewritten() -> None:
    assert timer_to_python("P3D") == "'P3D'"
    assert timer_to_python(" R3/PT1H ") == "'R3/PT1H'"
    assert timer_to_python("2026-05-01T09:00:00Z") == "'2026-05-01T09:00:00Z'"
    assert timer_to_python("'PT5M'") == "'PT5M'"
    assert juel_to_python("${amount > 100 && !urgent}") == "amount > 100 and not urgent"


def test_timer_literal_runs() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT5M</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:endEvent id="e"/>' + flow("s", "wait") + flow("wait", "e")
    )
    definition = compile_bytes(process(body))
    workflow = new_workflow(definition.spec, definition.subprocess_specs)
    workflow.do_engine_steps()
    assert len(workflow.waiting_events()) == 1


def test_bad_timer_literal_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P3X</bpmn:timeDuration></bpmn:timerEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + flow("s", "wait") + flow("wait", "e")
    )
    with pytest.raises(DeploymentError, match=r'wait "Wait": timer timeDuration'):
        compile_bytes(process(body))


def test_implicit_parallel_split_is_made_explicit() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:task id="a" name="A"/><bpmn:task id="b"/>'
        '<bpmn:task id="c"/><bpmn:parallelGateway id="j"/><bpmn:endEvent id="e"/>'
        + flow("s", "a")
        + flow("a", "b")
        + flow("a", "c")
        + flow("b", "j")
        + flow("c", "j")
        + flow("j", "e")
    )
    definition = compile_bytes(process(body))
    workflow = new_workflow(definition.spec, definition.subprocess_specs)
    workflow.do_engine_steps()
    ran = []
    while ready := workflow.get_tasks(state=TaskState.READY, manual=True):
        ran.append(ready[0].task_spec.bpmn_id)
        ready[0].run()
        workflow.do_engine_steps()
    assert workflow.is_completed()
    assert sorted(ran) == ["a", "b", "c"]


def test_conditional_flows_from_a_task_are_refused_with_the_fix() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:task id="a" name="Check"/><bpmn:endEvent id="e1"/>'
        '<bpmn:endEvent id="e2"/>' + flow("s", "a") + flow("a", "e1", "x") + flow("a", "e2", "not x")
    )
    with pytest.raises(DeploymentError, match=r'a "Check": .*Draw an exclusive or inclusive gateway'):
        compile_bytes(process(body))


def test_unsupported_element_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:complexGateway id="g" name="Odd"/><bpmn:endEvent id="e"/>'
        + flow("s", "g")
        + flow("g", "e")
    )
    with pytest.raises(DeploymentError, match='g "Odd": bpmn:complexGateway is not supported'):
        compile_bytes(process(body))


def test_missing_process_id_is_refused() -> None:
    with pytest.raises(DeploymentError, match="process has no id"):
        compile_bytes(process('<bpmn:startEvent id="s"/>', process_id=""))


def test_gateway_without_default_or_conditions_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" name="Which?"/>'
        '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
        + flow("s", "g")
        + flow("g", "e1", "x > 1")
        + flow("g", "e2")
    )
    with pytest.raises(DeploymentError, match='g "Which\\?": gateway has no default flow'):
        compile_bytes(process(body))


def test_script_that_does_not_compile_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:scriptTask id="t" name="Compute" scriptFormat="python">'
        '<bpmn:script>x = = 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>'
        + flow("s", "t")
        + flow("t", "e")
    )
    with pytest.raises(DeploymentError, match='t "Compute": script does not compile: syntax error'):
        compile_bytes(process(body))


def test_script_with_import_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:scriptTask id="t" name="Evil">'
        '<bpmn:script>import os</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>'
        + flow("s", "t")
        + flow("t", "e")
    )
    with pytest.raises(DeploymentError, match="imports are not allowed"):
        compile_bytes(process(body))


def test_user_task_without_lane_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:userTask id="u" name="Do it"/><bpmn:endEvent id="e"/>'
        + flow("s", "u")
        + flow("u", "e")
    )
    with pytest.raises(DeploymentError, match='u "Do it": user task is in no lane'):
        compile_bytes(process(body))


def test_user_task_in_unknown_lane_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:userTask id="u" name="Do it"/><bpmn:endEvent id="e"/>'
        + flow("s", "u")
        + flow("u", "e")
    )
    with pytest.raises(DeploymentError, match="lane 'Janitor' has no role mapping"):
        compile_bytes(process(body, lanes={"Janitor": ["s", "u", "e"]}))


def test_restricted_scripts_cannot_escape() -> None:
    environment = SCRIPT_ENGINE.environment
    for source in (
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "'{0.__class__}'.format(1)",
    ):
        with pytest.raises((ScriptRefusedError, NameError)):
            environment.evaluate(source, {})
    with pytest.raises(ScriptRefusedError):
        environment.execute("import os", {})
    data = {"name": "__import__('os').system('echo pwned')"}
    # Citizen data is a value in the namespace, never compiled: it stays a string.
    assert environment.evaluate("name", data) == data["name"]


def test_reserved_ids_are_refused() -> None:
    body = '<bpmn:startEvent id="Start" name="Begin"/><bpmn:endEvent id="e"/>' + flow("Start", "e")
    with pytest.raises(DeploymentError, match="Start \"Begin\": the id 'Start' is reserved"):
        compile_bytes(process(body))


def test_camunda_modeler_export_loads_as_it_is() -> None:
    data = (Path(__file__).parent / "bpmn" / "camunda_modeler_leave.bpmn").read_bytes()
    definition = compile_definition(data, "camunda_modeler_leave.bpmn", LANES)
    assert definition.original_xml == data  # colours, DI and Camunda extensions kept
    assert definition.tasks["Activity_Notify"].handler == "notify_applicant"
    assert definition.tasks["Activity_Check"].lane == "Clerk"
    workflow = new_workflow(definition.spec, definition.subprocess_specs)
    workflow.do_engine_steps()
    (check,) = workflow.get_tasks(state=TaskState.READY, manual=True)
    check.run()
    workflow.do_engine_steps()
    assert len(workflow.waiting_events()) == 1  # the P1D timer literal was accepted


def test_bpmn_io_default_diagram_without_lanes_gets_the_lane_fix() -> None:
    body = (
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:userTask id="Activity_1" name="Review"/>'
        '<bpmn:endEvent id="Event_1"/>' + flow("StartEvent_1", "Activity_1") + flow("Activity_1", "Event_1")
    )
    data = process(body).replace(b'isExecutable="true"', b'isExecutable="false"')
    with pytest.raises(DeploymentError, match='Activity_1 "Review": user task is in no lane'):
        compile_bytes(data)
