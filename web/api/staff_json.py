"""JSON shapes of the staff API (web/api/staff.py); the schemas are in web/api/openapi/staff.yaml."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from engine.casework.desk import CaseDetail, TaskDetail
from engine.workflow.task_index import InboxItem
from storage import download_ttl
from web.context import services


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 (UTC as stored), or None."""
    return moment.isoformat() if moment else None


def item_json(item: InboxItem, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    """One inbox row."""
    return {
        "id": str(item.task_id),
        "title": item.title,
        "case_id": str(item.case_id),
        "case_number": item.case_number,
        "milestone": item.milestone,
        "request_type": item.request_type,
        "lane": item.lane,
        "assignee": user_ref(item.assignee_id, names),
        "priority": item.priority,
        "created_at": iso(item.created_at),
        "due_at": iso(item.due_at),
        "overdue": item.overdue,
    }


def user_ref(user_id: uuid.UUID | None, names: dict[uuid.UUID, str]) -> dict[str, str] | None:
    """A user as id and name, or None."""
    return {"id": str(user_id), "full_name": names.get(user_id, "")} if user_id else None


def case_summary(case: Any) -> dict[str, Any]:
    """The columns of a case that lists show."""
    return {
        "id": str(case.id),
        "number": case.number,
        "process_id": case.process_id,
        "service_code": (case.data or {}).get("service_code"),
        "status": case.status,
        "milestone": case.milestone,
        "department_id": str(case.department_id) if case.department_id else None,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "closed_at": iso(case.closed_at),
        "due_at": iso(case.due_at),
    }


def task_json(detail: TaskDetail) -> dict[str, Any]:
    """An open task with its form and case."""
    task = detail.task
    assignee = detail.assignee
    names = {assignee.id: assignee.full_name} if assignee else {}
    return {
        "id": str(task.task_id),
        "title": task.title,
        "bpmn_id": task.bpmn_id,
        "lane": task.lane,
        "role": task.role,
        "department_id": str(task.department_id) if task.department_id else None,
        "assignee": user_ref(task.assignee_id, names),
        "priority": task.priority,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "form_key": task.form_key,
        "form": detail.form,
        "case": case_summary(detail.case),
    }


def detail_json(detail: CaseDetail) -> dict[str, Any]:
    """A case with everything the staff case screen shows."""
    case = detail.case
    store = services().store
    ttl = download_ttl(services().settings)
    department = detail.department
    names = detail.assignee_names
    return case_summary(case) | {
        "data": case.data,
        "applicant": case.applicant,
        "department": {
            "id": str(department.id),
            "code": department.code,
            "name_el": department.name_el,
            "name_en": department.name_en,
        }
        if department
        else None,
        "tasks": [
            {
                "id": str(t.task_id),
                "title": t.title,
                "lane": t.lane,
                "role": t.role,
                "assignee": user_ref(t.assignee_id, names),
                "due_at": iso(t.due_at),
            }
            for t in detail.tasks
        ],
        "files": [
            {
                "id": str(f.id),
                "kind": f.kind,
                "attachment_key": f.attachment_key,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "uploaded_by_applicant": f.uploaded_by_applicant,
                "created_at": iso(f.created_at),
                "download_url": store.url_for_download(f.object_key, ttl, filename=f.filename),
            }
            for f in detail.files
        ],
        "timeline": [
            {
                "seq": e.seq,
                "at": iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "task_id": str(e.task_id) if e.task_id else None,
                "details": e.details,
            }
            for e in detail.history
        ],
        "notifications": [
            {
                "id": str(n.id),
                "channel": n.channel,
                "recipient": n.recipient,
                "template_key": n.template_key,
                "status": n.status,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": iso(n.created_at),
                "sent_at": iso(n.sent_at),
            }
            for n in detail.notifications
        ],
        "incidents": [
            {
                "id": i.id,
                "kind": i.kind,
                "task_id": str(i.task_id),
                "bpmn_id": i.bpmn_id,
                "handler": i.handler,
                "error": i.error,
                "attempts": i.attempts,
                "created_at": iso(i.created_at),
                "resolved_at": iso(i.resolved_at),
            }
            for i in detail.incidents
        ],
    }
