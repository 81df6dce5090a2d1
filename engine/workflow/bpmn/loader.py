"""Turn a BPMN file into an executable, validated definition (deploy time only)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.specs.defaults import ManualTask

from engine.workflow.bpmn.checks import (
    check_process,
    form_key,
    four_eyes_after,
    input_parameters,
    lane_of_nodes,
    service_handler_name,
)
from engine.workflow.bpmn.milestones import milestones_of_process
from engine.workflow.bpmn.names import CAMUNDA, label, local_name, tag
from engine.workflow.bpmn.rewrite import rewrite_for_spiff
from engine.workflow.bpmn.safe_xml import parse_xml
from engine.workflow.bpmn.timer_start import TimerStart, find_timer_start, strip_timer_start
from engine.workflow.errors import DeploymentError, Problem


class PolisBpmnParser(SpiffBpmnParser):  # type: ignore[misc]
    """SpiffBpmnParser where a service task waits (like a manual task) for the job queue.

    Polis runs service handlers in background jobs with retries, so the engine must stop
    at a service task instead of calling it inline during ``do_engine_steps``.
    """

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        tag("serviceTask"): (SpiffTaskParser, ManualTask),
    }


@dataclass(frozen=True)
class TaskInfo:
    """What the engine needs to know about one activity beyond the SpiffWorkflow spec."""

    bpmn_id: str
    kind: str  # userTask, serviceTask, manualTask, ...
    title: str
    lane: str | None = None
    form_key: str | None = None
    handler: str | None = None
    priority: int = 0
    #: A service task's input parameters (camunda:inputParameter), handed to its handler.
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    #: Four-eyes rule: whoever last completed one of these tasks may not complete this one.
    four_eyes_after: tuple[str, ...] = field(default=(), hash=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored with the definition."""
        return {**self.__dict__, "params": dict(self.params), "four_eyes_after": list(self.four_eyes_after)}


@dataclass
class CompiledDefinition:
    """A validated BPMN file: the original XML, the parsed spec and per-task metadata."""

    process_id: str
    name: str
    content_hash: str
    original_xml: bytes
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    #: The process's timer start event: engine.workflow.schedules starts its cases.
    timer_start: TimerStart | None = None


def content_hash(data: bytes) -> str:
    """The identity of a BPMN file: SHA-256 of its exact bytes."""
    return hashlib.sha256(data).hexdigest()


def compile_definition(
    data: bytes, file_name: str = "", known_lanes: Collection[str] | None = None
) -> CompiledDefinition:
    """Validate and parse a BPMN file; raise DeploymentError listing every problem."""
    tree = parse_xml(data, file_name)
    root = tree.getroot()
    if root.tag != tag("definitions"):
        raise DeploymentError(
            [
                Problem(
                    "",
                    "",
                    f"the root element is <{etree.QName(root).localname}>, not a BPMN "
                    "<definitions>; export the diagram as BPMN 2.0 XML.",
                )
            ],
            file_name,
        )
    process = _main_process(root, file_name)
    problems = _schema_problems(tree)
    executable, rewrite_problems = rewrite_for_spiff(tree)
    problems += rewrite_problems
    timer_start, timer_problems = find_timer_start(process, datetime.now(UTC))
    problems += timer_problems
    if timer_start is not None:  # the schedule starts the cases (engine.workflow.bpmn.timer_start)
        main_id = process.get("id")
        strip_timer_start(
            next(p for p in executable.getroot().iter(tag("process")) if p.get("id") == main_id)
        )
    for each in executable.getroot().iter(tag("process")):
        problems += check_process(each, known_lanes)
    problems += [Problem(process.get("id", ""), "", text) for text in milestones_of_process(process)[1]]
    if problems:
        raise DeploymentError(problems, file_name)
    process_id = process.get("id", "")
    spec, subprocess_specs = _parse(executable, process_id, file_name)
    return CompiledDefinition(
        process_id=process_id,
        name=(process.get("name") or process_id).strip(),
        content_hash=content_hash(data),
        original_xml=data,
        spec=spec,
        subprocess_specs=subprocess_specs,
        tasks=task_infos(executable.getroot()),
        timer_start=timer_start,
    )


def task_infos(root: etree._Element) -> dict[str, TaskInfo]:
    """Collect the per-activity metadata Polis needs (lane, form, handler, title)."""
    infos: dict[str, TaskInfo] = {}
    for process in root.iter(tag("process")):
        lanes = lane_of_nodes(process)
        # Start events are listed for their start form (camunda:formKey), which start_case checks.
        for node in process.iter(tag("userTask"), tag("manualTask"), tag("serviceTask"), tag("startEvent")):
            node_id, name = label(node)
            priority = node.get(f"{{{CAMUNDA}}}priority") or "0"
            infos[node_id] = TaskInfo(
                bpmn_id=node_id,
                kind=local_name(node),
                title=name or node_id,
                lane=lanes.get(node_id),
                form_key=form_key(node),
                handler=service_handler_name(node) if local_name(node) == "serviceTask" else None,
                priority=int(priority) if priority.strip().lstrip("-").isdigit() else 0,
                params=input_parameters(node) if local_name(node) == "serviceTask" else {},
                four_eyes_after=four_eyes_after(node) if local_name(node) == "userTask" else (),
            )
    return infos


def _main_process(root: etree._Element, file_name: str) -> etree._Element:
    processes = root.findall(tag("process"))
    problems = [
        Problem(
            "",
            (p.get("name") or "").strip(),
            "process has no id; give the pool's process an id "
            "(Camunda Modeler: select the pool, General > ID).",
        )
        for p in processes
        if not p.get("id")
    ]
    if problems:
        raise DeploymentError(problems, file_name)
    if not processes:
        raise DeploymentError(
            [
                Problem(
                    "",
                    "",
                    "the file contains no process; draw a pool with a start event.",
                )
            ],
            file_name,
        )
    executable = [p for p in processes if p.get("isExecutable") == "true"] or processes
    if len(executable) > 1:
        ids = ", ".join(p.get("id", "") for p in executable)
        raise DeploymentError(
            [
                Problem(
                    "",
                    "",
                    f"several processes ({ids}) could be the main one; mark exactly one "
                    'as executable (isExecutable="true").',
                )
            ],
            file_name,
        )
    return executable[0]


def _schema_problems(tree: etree._ElementTree) -> list[Problem]:
    # The validator rewrites bpmn.io's correlation markup in place: give it a copy.
    candidate = copy.deepcopy(tree)
    try:
        VALIDATOR.validate(candidate)
    except ValidationException as exc:
        return [Problem("", "", f"not valid BPMN 2.0 (line {exc.line_number}): {exc}")]
    return []


def _parse(
    tree: etree._ElementTree, process_id: str, file_name: str
) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
    parser = PolisBpmnParser(validator=None)
    try:
        parser.add_bpmn_xml(tree, file_name)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        raise DeploymentError([Problem(exc.id, exc.name, f"{exc}")], file_name) from None
    except Exception as exc:
        raise DeploymentError(
            [
                Problem(
                    "",
                    "",
                    f"SpiffWorkflow could not parse the process: {type(exc).__name__}: {exc}",
                )
            ],
            file_name,
        ) from None
    return spec, subprocess_specs
