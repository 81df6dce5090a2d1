"""SpiffWorkflow serialization: the spec once per definition version, the state per case.

A case stores only its task tree and data; the process spec (most of a naive
serialization) is stored with the definition version and cached in the process.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from engine.workflow.scripting import SCRIPT_ENGINE

STATE_FORMAT = "polis-state-1"


def _build_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    # Task data may hold dates and money; the default registry only knows datetime,
    # timedelta and UUID. `date` is registered by exact class so datetime keeps its own.
    registry.register(
        dt.date,
        lambda v: {"value": v.isoformat()},
        lambda v: dt.date.fromisoformat(v["value"]),
    )
    registry.register(
        decimal.Decimal,
        lambda v: {"value": str(v)},
        lambda v: decimal.Decimal(v["value"]),
    )
    registry.register(set, lambda v: {"value": sorted(v, key=repr)}, lambda v: set(v["value"]))
    serializer = BpmnWorkflowSerializer(registry)
    # SpiffWorkflow 3.2 leaves task data unconverted and relies on its JSON encoder to turn
    # dates, Decimals... into tagged dicts, which it does only in "encoder mode". We always
    # dump through that encoder, so the mode stays on (also no thread flips it back and forth).
    registry._encoder_mode = True
    return serializer


SERIALIZER = _build_serializer()
_REGISTRY = SERIALIZER.registry
_ENCODER = SERIALIZER._encoder_cls


def spec_to_json(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
    """Serialize a parsed process spec and its sub-process specs (stored per definition)."""
    payload = {
        "version": SERIALIZER.VERSION,
        "spec": _REGISTRY.convert(spec),
        "subprocess_specs": {name: _REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    }
    return json.dumps(payload, separators=(",", ":"), cls=_ENCODER)


def spec_from_json(text: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
    """Restore what :func:`spec_to_json` stored."""
    payload = json.loads(text)
    spec = _REGISTRY.restore(payload["spec"])
    subs = {name: _REGISTRY.restore(s) for name, s in payload["subprocess_specs"].items()}
    return spec, subs


def new_workflow(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> BpmnWorkflow:
    """A fresh workflow on the shared restricted script engine."""
    return BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)


def state_to_json(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state without its spec."""
    dct = _workflow_converter().state_to_dict(workflow)
    dct["format"] = STATE_FORMAT
    dct["serializer_version"] = SERIALIZER.VERSION
    return json.dumps(dct, separators=(",", ":"), cls=_ENCODER)


def state_from_json(
    text: str, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]
) -> BpmnWorkflow:
    """Restore a workflow from its state and the (cached) spec of its definition version."""
    dct = json.loads(text)
    if dct.pop("format", None) != STATE_FORMAT:
        raise ValueError("unknown workflow state format")
    dct.pop("serializer_version", None)
    workflow = _workflow_converter().state_from_dict(dct, spec, subprocess_specs)
    # The script engine is not serialized: put the restricted one back every time.
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


class _StateConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """BpmnWorkflowConverter without the spec: the spec comes from the definition cache."""

    def state_to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def state_from_dict(
        self,
        dct: dict[str, Any],
        spec: BpmnProcessSpec,
        subprocess_specs: dict[str, BpmnProcessSpec],
    ) -> BpmnWorkflow:
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_CONVERTER: _StateConverter | None = None


def _workflow_converter() -> _StateConverter:
    global _CONVERTER
    if _CONVERTER is None:
        _CONVERTER = _StateConverter(BpmnWorkflow, _REGISTRY)
    return _CONVERTER
