"""Deploying BPMN definitions and the per-process cache of their parsed specs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.workflow.bpmn.loader import TaskInfo, compile_definition
from engine.workflow.bpmn.milestones import NO_MILESTONES, ProcessMilestones, parse_milestones
from engine.workflow.errors import DeploymentError, Problem
from engine.workflow.lanes import lane_rules
from engine.workflow.models import ProcessDefinition
from engine.workflow.schedules import replace_schedule
from engine.workflow.serialization import spec_from_json, spec_to_json

PROCESSES_DIR = Path(__file__).resolve().parents[2] / "processes"


@dataclass(frozen=True)
class LoadedDefinition:
    """A definition version ready to run: parsed spec plus task metadata (cached)."""

    id: int
    process_id: str
    version: int
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    tasks: dict[str, TaskInfo]
    #: What the applicant sees of the process (parsed once per version, cached with it).
    milestones: ProcessMilestones = NO_MILESTONES


@dataclass(frozen=True)
class DeployResult:
    """What ``deploy_definition`` did: a new version, or the existing one for the same bytes."""

    definition_id: int
    process_id: str
    version: int
    created: bool
    #: The newest version of the process after this deployment (new cases start on it).
    newest_version: int = 0

    @property
    def is_older(self) -> bool:
        """The file is an older version: deploying it changed nothing, new cases do not use it."""
        return not self.created and self.version < self.newest_version

    def describe(self, file_name: str = "") -> str:
        """One line for the operator saying what the deployment did."""
        where = f" ({file_name})" if file_name else ""
        if self.created:
            return f"{self.process_id} v{self.version}: deployed{where}"
        if self.is_older:
            return (
                f"{self.process_id}: NOT deployed{where}: this file is version {self.version}, older "
                f"than the newest version {self.newest_version}, which new cases keep starting on. "
                "To go back to it, change the file (e.g. its name or documentation) and deploy it "
                "again; it then becomes the newest version."
            )
        return f"{self.process_id} v{self.version}: unchanged, identical to the newest version{where}"


#: content hash -> parsed definition (id and version fields unused in the cache itself)
_CACHE: dict[str, LoadedDefinition] = {}
_CACHE_LOCK = threading.Lock()


def validate_file(data: bytes, file_name: str = "") -> None:
    """Raise DeploymentError if the file cannot be executed (no database needed)."""
    compile_definition(data, file_name, lane_rules().keys())


def deploy_definition(session: Session, data: bytes, file_name: str = "") -> DeployResult:
    """Validate ``data`` and store it as the next version of its process (idempotent per hash).

    A process with a timer start event gets its schedule (engine.workflow.schedules) on the new version.
    """
    compiled = compile_definition(data, file_name, lane_rules().keys())
    # Serialize deployments of one process so two deployers cannot take the same version.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:p))"),
        {"p": f"deploy:{compiled.process_id}"},
    )
    existing = session.execute(
        select(ProcessDefinition.id, ProcessDefinition.version).where(
            ProcessDefinition.process_id == compiled.process_id,
            ProcessDefinition.content_hash == compiled.content_hash,
        )
    ).first()
    last = session.scalar(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_id == compiled.process_id)
    )
    if existing is not None:
        return DeployResult(
            existing.id, compiled.process_id, existing.version, created=False, newest_version=last or 0
        )
    row = ProcessDefinition(
        process_id=compiled.process_id,
        version=(last or 0) + 1,
        name=compiled.name,
        content_hash=compiled.content_hash,
        file_name=file_name,
        original_xml=compiled.original_xml,
        spec_json=spec_to_json(compiled.spec, compiled.subprocess_specs),
        tasks={k: v.to_dict() for k, v in compiled.tasks.items()},
    )
    session.add(row)
    session.flush()
    # The newest version takes over the process's timer start schedule (or drops it).
    replace_schedule(session, row, compiled.timer_start)
    return DeployResult(row.id, row.process_id, row.version, created=True, newest_version=row.version)


def deploy_directory(session: Session, directory: Path = PROCESSES_DIR) -> list[DeployResult]:
    """Deploy every ``*.bpmn`` file in ``directory`` (unchanged files keep their version)."""
    return [
        deploy_definition(session, path.read_bytes(), path.name) for path in sorted(directory.glob("*.bpmn"))
    ]


def load_definition(
    session: Session, definition_id: int, content_hash: str | None = None, version: int = 0
) -> LoadedDefinition:
    """The parsed definition version; the spec comes from the in-process cache when it can.

    The cache is keyed by the file's content hash (not the row id), so it stays right
    across databases and rolled-back deployments; with ``content_hash`` given (the case
    query joins it in), a cached spec costs no query at all.
    """
    cached = _CACHE.get(content_hash) if content_hash else None
    if cached is not None:
        return LoadedDefinition(definition_id, cached.process_id, version, cached.name, *_parts(cached))
    row = session.get(ProcessDefinition, definition_id)
    if row is None:
        raise DeploymentError(
            [Problem("", "", f"definition {definition_id} does not exist; deploy it first.")]
        )
    cached = _CACHE.get(row.content_hash)
    if cached is None:
        spec, subs = spec_from_json(row.spec_json)
        tasks = {
            k: TaskInfo(**{**v, "four_eyes_after": tuple(v.get("four_eyes_after", ()))})
            for k, v in row.tasks.items()
        }
        milestones = parse_milestones(row.original_xml, row.process_id)
        cached = LoadedDefinition(0, row.process_id, 0, row.name, spec, subs, tasks, milestones)
        with _CACHE_LOCK:
            cached = _CACHE.setdefault(row.content_hash, cached)
    return LoadedDefinition(row.id, row.process_id, row.version, row.name, *_parts(cached))


def _parts(
    cached: LoadedDefinition,
) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec], dict[str, TaskInfo], ProcessMilestones]:
    return cached.spec, cached.subprocess_specs, cached.tasks, cached.milestones


def latest_definition(session: Session, process_id: str) -> LoadedDefinition | None:
    """The newest deployed version of ``process_id`` (new cases start on it), or None."""
    row = session.execute(
        select(ProcessDefinition.id, ProcessDefinition.version, ProcessDefinition.content_hash)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return load_definition(session, row.id, row.content_hash, row.version)


def list_definitions(session: Session) -> list[ProcessDefinition]:
    """Every deployed definition version, newest first per process."""
    return list(
        session.scalars(
            select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version.desc())
        )
    )
