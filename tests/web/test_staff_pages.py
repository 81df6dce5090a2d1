"""Staff pages without a browser: access, CSRF, htmx after the session ended, form messages, SLA words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.admin_audit import AdminEvent, verify_admin_chain
from engine.people.models import User
from engine.workflow.models import Incident
from forms.schemas import field_problems
from tests.web.staff_fixtures import CSRF, World, build_world, sign_in
from web.pages.ui import sla_state


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


def test_anonymous_visitors_go_to_sign_in_and_htmx_refreshes_are_redirected(client) -> None:
    answer = client.get("/work?view=department")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/work")
    refresh = client.get("/work", headers={"HX-Request": "true"})
    assert refresh.status_code == 204
    assert refresh.headers["HX-Redirect"].startswith("/login")


def test_inbox_task_and_case_pages_render_for_the_department(client, world: World) -> None:
    sign_in(client, world.org.clerk)
    inbox = client.get("/work?view=department").get_data(as_text=True)
    assert world.case_number in inbox
    assert "Σύνταξη εγγράφου" in inbox  # the BPMN name, translated
    task = client.get(f"/work/tasks/{world.task_id}")
    assert task.status_code == 200
    assert client.get(f"/work/cases/{world.case_id}").status_code == 200


def test_another_department_gets_a_friendly_refusal(client, world: World) -> None:
    sign_in(client, world.org.outsider)
    task = client.get(f"/work/tasks/{world.task_id}")
    assert task.status_code == 403
    assert "Δεν επιτρέπεται" in task.get_data(as_text=True)
    assert world.case_number not in client.get("/work?view=department").get_data(as_text=True)
    assert client.get(f"/work/cases/{world.case_id}").status_code == 403


def test_forms_need_the_csrf_token(client, world: World) -> None:
    sign_in(client, world.org.clerk)
    assert client.post(f"/work/tasks/{world.task_id}/claim").status_code == 400
    claimed = client.post(f"/work/tasks/{world.task_id}/claim", data={"_csrf": CSRF})
    assert claimed.status_code == 302


def test_form_errors_come_back_in_greek_next_to_the_fields_with_the_data(client, world: World) -> None:
    sign_in(client, world.org.clerk)
    client.post(f"/work/tasks/{world.task_id}/claim", data={"_csrf": CSRF})
    answer = client.post(f"/work/tasks/{world.task_id}/complete", data={"_csrf": CSRF, "body": "Κείμενο"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert (
        "Υπάρχει πρόβλημα" in page and 'id="f-title-error"' in page and "Συμπληρώστε αυτό το πεδίο." in page
    )
    assert "Κείμενο</textarea>" in page  # what was typed stays


def test_bulk_approval_without_a_selection_says_so(client, world: World) -> None:
    sign_in(client, world.org.head)
    answer = client.post("/work/approvals/bulk", data={"_csrf": CSRF})
    assert answer.status_code == 422
    assert "Επιλέξτε τουλάχιστον μία υπόθεση" in answer.get_data(as_text=True)


def test_field_problems_name_the_field_and_the_limit() -> None:
    assert [(p.field, p.kind) for p in field_problems("certificate_approval", {})] == [
        ("decision", "required")
    ]
    problems = field_problems("certificate_approval", {"decision": "return", "comment": "ok"})
    assert [(p.field, p.kind, p.limit) for p in problems] == [("comment", "too_short", 3)]
    assert [p.kind for p in field_problems("certificate_approval", {"decision": "maybe"})] == ["choice"]


def test_sla_words_follow_the_athens_calendar() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 12:00 in Athens
    assert sla_state(None, now) is None
    assert sla_state(now - timedelta(minutes=1), now) == "overdue"
    assert sla_state(datetime(2026, 12, 7, 21, 59, tzinfo=UTC), now) == "today"  # 23:59 Athens
    assert sla_state(datetime(2026, 12, 7, 22, 1, tzinfo=UTC), now) == "ontime"  # 00:01 tomorrow


def test_incidents_show_a_retry_button_to_administrators_only(
    client, db_session: Session, world: World
) -> None:
    incident = Incident(
        case_id=world.case_id,
        task_id=uuid.uuid4(),
        bpmn_id="seal_document",
        handler="seal_document",
        error="the time-stamping service did not answer",
        attempts=5,
        created_at=datetime.now(UTC),
    )
    admin = User(username=f"admin-{uuid.uuid4().hex[:6]}", full_name="Admin", roles=["admin"])
    db_session.add_all([incident, admin])
    db_session.flush()

    sign_in(client, world.org.clerk)
    page = client.get(f"/work/cases/{world.case_id}").get_data(as_text=True)
    assert "the time-stamping service did not answer" in page and "Νέα προσπάθεια τώρα" not in page
    refused = client.post(
        f"/work/incidents/{incident.id}/retry", data={"_csrf": CSRF, "case_id": str(world.case_id)}
    )
    assert refused.status_code == 302
    db_session.refresh(incident)
    assert incident.resolved_at is None

    sign_in(client, admin)
    assert "Νέα προσπάθεια τώρα" in client.get(f"/work/cases/{world.case_id}").get_data(as_text=True)
    retried = client.post(
        f"/work/incidents/{incident.id}/retry", data={"_csrf": CSRF, "case_id": str(world.case_id)}
    )
    assert retried.headers["Location"] == f"/work/cases/{world.case_id}"
    db_session.refresh(incident)
    assert incident.resolved_at is not None
    # The same retry as the admin page's: in the hash-chained admin log too, naming the admin.
    [event] = db_session.scalars(select(AdminEvent).where(AdminEvent.action == "incident.retry")).all()
    assert (event.actor_id, event.details["incident"]) == (admin.id, incident.id)
    assert verify_admin_chain(db_session) == []
