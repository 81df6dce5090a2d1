"""Errors raised by the engine; each says what went wrong and what to do next."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolisError


@dataclass(frozen=True)
class Problem:
    """One reason a BPMN file cannot be executed, tied to the element that causes it."""

    element_id: str
    element_name: str
    message: str

    def __str__(self) -> str:
        label = self.element_id or "(file)"
        if self.element_name:
            label += f' "{self.element_name}"'
        return f"{label}: {self.message}"


class DeploymentError(InvalidInput):
    """A BPMN file was refused at deploy time; ``problems`` lists every reason found."""

    code = "bpmn_invalid"

    def __init__(self, problems: list[Problem], file_name: str = "") -> None:
        where = f"{file_name}: " if file_name else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}this BPMN file cannot be executed:\n{lines}")
        self.problems = problems


class UnsafeXmlError(DeploymentError):
    """The file uses XML features we refuse (DTDs, entities) or is not XML at all."""

    code = "bpmn_unsafe_xml"


class ScriptRefusedError(PolisError):
    """A script or expression uses something the restricted engine does not allow."""

    code = "script_refused"


class CaseNotFound(NotFound):
    """No case with that number, id or tracking code."""

    code = "case_not_found"


class TaskNotFound(NotFound):
    """No open task with that id."""

    code = "task_not_found"


class TaskConflict(Conflict):
    """The task changed under the caller (completed, claimed by someone else...)."""

    code = "task_conflict"


class TaskReserved(Conflict):
    """The task is completed only by its domain engine's own page (e.g. an outgoing document's
    chain step); ``owner`` names that engine so pages can send the reader there."""

    code = "task_reserved"

    def __init__(self, message: str, owner: str) -> None:
        super().__init__(message, owner=owner)
        self.owner = owner


class TaskForbidden(PermissionDenied):
    """The task belongs to another department or role."""

    code = "task_forbidden"


class FourEyesViolation(PermissionDenied):
    """The approver would approve their own preparation (four-eyes rule)."""

    code = "four_eyes"


class FormInvalid(InvalidInput):
    """The submitted form data does not match the task's form definition."""

    code = "form_invalid"

    def __init__(self, message: str, errors: list[str]) -> None:
        # "field: reason" lines (forms.schemas) also as a map, so clients can mark each field.
        fields: dict[str, str] = {}
        for line in errors:
            where, _, reason = line.partition(": ")
            fields.setdefault(where, reason)
        super().__init__(message, errors=errors, fields=fields)
        self.errors = errors
