"""Restored workflows kept in the process between commands, so a hit skips the state.

Restoring a workflow from its JSON costs more CPU than running it, and reading the
state makes the locked read of the case bigger. After a command saves a case, its live
workflow stays here under the case id and the random ``state_token`` written with that
state. The next command on the case reads the token under the row lock and takes the
workflow only if the token in the row is the one it was saved with: a state written
by another process, or by a transaction that rolled back, never matches (a token is
never reused). An entry is taken out while a command uses it, so a command that fails
half-way (or another thread) can never see a workflow that a command changed but did
not save; it is put back only by the next save.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

#: The cases a process touched last. A restored document_approval workflow takes ~14 KB
#: (tracemalloc), growing with its history: some 15-50 MB at most per process.
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class _Entry:
    token: uuid.UUID
    workflow: BpmnWorkflow
    task_ids: tuple[uuid.UUID, ...]


_LOCK = threading.Lock()
_ENTRIES: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
_CASE_OF_TASK: dict[uuid.UUID, uuid.UUID] = {}


def token_for_case(case_id: uuid.UUID) -> uuid.UUID | None:
    """The state token of the cached workflow of a case, or None."""
    entry = _ENTRIES.get(case_id)
    return entry.token if entry is not None else None


def token_for_task(task_id: uuid.UUID) -> uuid.UUID | None:
    """The state token of the cached workflow whose open task this is, or None."""
    case_id = _CASE_OF_TASK.get(task_id)
    return token_for_case(case_id) if case_id is not None else None


def take(case_id: uuid.UUID, token: uuid.UUID | None) -> BpmnWorkflow | None:
    """Remove the case's cached workflow; return it if it was saved as ``token``."""
    with _LOCK:
        entry = _drop(case_id)
    if entry is None or token is None or entry.token != token:
        return None
    return entry.workflow


def keep(case_id: uuid.UUID, token: uuid.UUID, workflow: BpmnWorkflow, task_ids: Iterable[uuid.UUID]) -> None:
    """Remember a workflow just saved with ``token`` (and the open tasks that lead to it)."""
    entry = _Entry(token, workflow, tuple(task_ids))
    with _LOCK:
        _drop(case_id)
        _ENTRIES[case_id] = entry
        for task_id in entry.task_ids:
            _CASE_OF_TASK[task_id] = case_id
        while len(_ENTRIES) > MAX_ENTRIES:
            _drop(next(iter(_ENTRIES)))


def clear() -> None:
    """Forget every cached workflow (tests, and processes that fork)."""
    with _LOCK:
        _ENTRIES.clear()
        _CASE_OF_TASK.clear()


def _drop(case_id: uuid.UUID) -> _Entry | None:
    entry = _ENTRIES.pop(case_id, None)
    if entry is not None:
        for task_id in entry.task_ids:
            _CASE_OF_TASK.pop(task_id, None)
    return entry
