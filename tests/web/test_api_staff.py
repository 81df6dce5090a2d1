"""The staff API through the Flask test client against the real test database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.admin_audit import AdminEvent
from engine.workflow.models import Case, CaseTask
from tests.web.staff_fixtures import World, bearer, build_world, sign_in


@pytest.fixture
def world(db_session: Session) -> World:
    built = build_world(db_session)
    db_session.commit()  # a savepoint of the test's transaction: visible to the app's session
    return built


def test_claim_and_complete(client: Any, world: World) -> None:
    headers = sign_in(client, world.org.clerk)
    queue = client.get("/api/v1/tasks", query_string={"view": "department"})
    assert queue.status_code == 200, queue.json
    assert [t["id"] for t in queue.json["tasks"]] == [str(world.task_id)]
    assert queue.json["tasks"][0]["case_number"] == world.case_number

    detail = client.get(f"/api/v1/tasks/{world.task_id}").json
    assert detail["form_key"] == "document_prepare"
    assert detail["form"]["required"] == ["title"]
    assert detail["case"]["number"] == world.case_number

    claimed = client.post(f"/api/v1/tasks/{world.task_id}/claim", headers=headers)
    assert claimed.status_code == 200, claimed.json
    assert claimed.json["assignee"]["id"] == str(world.org.clerk.id)
    mine = client.get("/api/v1/tasks", query_string={"view": "mine"}).json["tasks"]
    assert [t["id"] for t in mine] == [str(world.task_id)]
    assert client.get("/api/v1/tasks", query_string={"view": "department"}).json["tasks"] == []

    done = client.post(
        f"/api/v1/tasks/{world.task_id}/complete", json={"data": {"title": "Απόφαση"}}, headers=headers
    )
    assert done.status_code == 200, done.json
    assert done.json["case"]["number"] == world.case_number
    assert client.get("/api/v1/tasks", query_string={"view": "mine"}).json["tasks"] == []

    head = client.application.test_client()
    sign_in(head, world.org.head)
    approvals = head.get("/api/v1/tasks", query_string={"view": "approvals"}).json["tasks"]
    assert [t["title"] for t in approvals] == ["Review document"]

    case = client.get(f"/api/v1/cases/{world.case_id}").json
    actions = [event["action"] for event in case["timeline"]]
    assert actions[0] == "case_started"
    assert "task_claimed" in actions and "task_completed" in actions
    assert case["data"]["title"] == "Απόφαση"
    assert case["files"] == [] and case["notifications"] == [] and case["incidents"] == []
    assert [t["title"] for t in case["tasks"]] == ["Review document"]


def test_a_clerk_of_another_department_is_refused(client: Any, world: World) -> None:
    headers = sign_in(client, world.org.outsider)
    assert client.get("/api/v1/tasks", query_string={"view": "department"}).json["tasks"] == []
    for response in (
        client.get(f"/api/v1/tasks/{world.task_id}"),
        client.post(f"/api/v1/tasks/{world.task_id}/claim", headers=headers),
        client.post(
            f"/api/v1/tasks/{world.task_id}/complete", json={"data": {"title": "x"}}, headers=headers
        ),
        client.get(f"/api/v1/cases/{world.case_id}"),
        client.post(f"/api/v1/cases/{world.case_id}/comments", json={"comment": "hi"}, headers=headers),
    ):
        assert response.status_code == 403, response.json
        assert response.json["error"] in ("task_forbidden", "forbidden", "case_forbidden")
    found = client.get("/api/v1/cases", query_string={"number": world.case_number}).json["cases"]
    assert found == []
    other = client.get("/api/v1/cases", query_string={"department": world.org.department.code})
    assert (other.status_code, other.json["error"]) == (403, "case_forbidden")


def test_bad_form_data_is_422_with_field_errors_and_changes_nothing(
    client: Any, world: World, db_session: Session
) -> None:
    headers = sign_in(client, world.org.clerk)
    before = db_session.get(Case, world.case_id)
    assert before is not None
    version, seq = before.version, before.audit_seq
    response = client.post(
        f"/api/v1/tasks/{world.task_id}/complete",
        json={"data": {"title": "", "colour": "red"}},
        headers=headers,
    )
    assert response.status_code == 422, response.json
    assert response.json["error"] == "form_invalid"
    fields = response.json["details"]["fields"]
    assert "title" in fields and "(form)" in fields  # too short, and an unknown field
    db_session.expire_all()
    after = db_session.get(Case, world.case_id)
    assert after is not None and (after.version, after.audit_seq) == (version, seq)
    assert db_session.get(CaseTask, world.task_id) is not None
    not_json = client.post(f"/api/v1/tasks/{world.task_id}/complete", data="x", headers=headers)
    assert (not_json.status_code, not_json.json["error"]) == (422, "invalid_input")


def test_head_assigns_forwards_comments_and_cancels(client: Any, world: World) -> None:
    clerk = client.application.test_client()
    clerk_headers = sign_in(clerk, world.org.clerk)
    refused = clerk.post(f"/api/v1/tasks/{world.task_id}/assign", json={"user": "x"}, headers=clerk_headers)
    assert refused.status_code in (403, 404)
    approvals = clerk.get("/api/v1/tasks", query_string={"view": "approvals"})
    assert approvals.status_code == 403

    headers = sign_in(client, world.org.head)
    assigned = client.post(
        f"/api/v1/tasks/{world.task_id}/assign", json={"user": world.org.clerk2.username}, headers=headers
    )
    assert assigned.status_code == 200, assigned.json
    assert assigned.json["assignee"]["full_name"] == "Clerk Two"
    unknown = client.post(f"/api/v1/tasks/{world.task_id}/assign", json={"user": "nobody"}, headers=headers)
    assert (unknown.status_code, unknown.json["error"]) == (404, "not_found")
    taken = clerk.post(f"/api/v1/tasks/{world.task_id}/claim", headers=clerk_headers)
    assert (taken.status_code, taken.json["error"]) == (409, "task_conflict")

    commented = client.post(
        f"/api/v1/cases/{world.case_id}/comments", json={"comment": "Προσοχή"}, headers=headers
    )
    assert commented.status_code == 201
    empty = client.post(f"/api/v1/cases/{world.case_id}/comments", json={"comment": " "}, headers=headers)
    assert empty.status_code == 422

    found = client.get("/api/v1/cases", query_string={"number": world.case_number, "status": "active"}).json
    assert [c["id"] for c in found["cases"]] == [str(world.case_id)]
    bad_status = client.get("/api/v1/cases", query_string={"status": "lost"})
    assert bad_status.status_code == 422

    cancel_refused = clerk.post(
        f"/api/v1/cases/{world.case_id}/cancel", json={"reason": "x"}, headers=clerk_headers
    )
    assert cancel_refused.status_code == 403

    forwarded = client.post(
        f"/api/v1/tasks/{world.task_id}/forward", json={"department": world.org.other.code}, headers=headers
    )
    assert forwarded.status_code == 200, forwarded.json
    assert forwarded.json["department_id"] == str(world.org.other.id)
    # The case went to the other department; the head still sees it (worked on it).
    cancelled = client.post(
        f"/api/v1/cases/{world.case_id}/cancel", json={"reason": "Λάθος"}, headers=headers
    )
    assert cancelled.status_code == 403  # no longer the head of the case's department
    case = client.get(f"/api/v1/cases/{world.case_id}").json
    actions = [event["action"] for event in case["timeline"]]
    assert actions[-3:] == ["task_assigned", "comment_added", "task_forwarded"]


def test_head_cancels_a_case_of_the_department(client: Any, world: World) -> None:
    headers = sign_in(client, world.org.head)
    missing_reason = client.post(f"/api/v1/cases/{world.case_id}/cancel", json={}, headers=headers)
    assert missing_reason.status_code == 422
    cancelled = client.post(
        f"/api/v1/cases/{world.case_id}/cancel", json={"reason": "Λάθος"}, headers=headers
    )
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    again = client.post(f"/api/v1/cases/{world.case_id}/cancel", json={"reason": "Λάθος"}, headers=headers)
    assert again.status_code == 409
    gone = client.get(f"/api/v1/tasks/{world.task_id}")
    assert (gone.status_code, gone.json["error"]) == (404, "task_not_found")


def test_incident_retry_is_for_administrators(client: Any, world: World, db_session: Session) -> None:
    headers = sign_in(client, world.org.head)
    assert client.post("/api/v1/incidents/1/retry", headers=headers).status_code == 403
    admin = world.org.outsider
    admin.roles = ["admin"]
    db_session.commit()
    admin_client = client.application.test_client()
    admin_headers = sign_in(admin_client, admin)
    missing = admin_client.post("/api/v1/incidents/987654/retry", headers=admin_headers)
    assert missing.status_code == 404
    # Administrators see every case.
    assert admin_client.get(f"/api/v1/cases/{world.case_id}").status_code == 200


def test_paging_and_filters(client: Any, world: World, db_session: Session) -> None:
    sign_in(client, world.org.clerk)
    page = client.get("/api/v1/tasks", query_string={"view": "department", "limit": 1}).json
    assert page["next_offset"] == 1 and len(page["tasks"]) == 1
    assert client.get("/api/v1/tasks", query_string={"view": "department", "offset": 1}).json["tasks"] == []
    assert (
        client.get("/api/v1/tasks", query_string={"view": "department", "service": "x"}).json["tasks"] == []
    )
    other_type = {"view": "department", "request_type": "certificate_issuance"}
    assert client.get("/api/v1/tasks", query_string=other_type).json["tasks"] == []
    for bad in (
        {"view": "all"},
        {"sort": "random"},
        {"limit": "many"},
        {"due_before": "tomorrow"},
        {"overdue": "y"},
    ):
        response = client.get("/api/v1/tasks", query_string=bad)
        assert response.status_code == 422, (bad, response.json)
    early = client.get(
        "/api/v1/tasks", query_string={"view": "department", "due_before": "2000-01-01T00:00:00+00:00"}
    )
    assert early.json["tasks"] == []


def test_tokens_authenticate_and_revoked_or_expired_ones_do_not(
    client: Any, world: World, db_session: Session
) -> None:
    from datetime import timedelta

    from core.clock import utcnow
    from engine.people.tokens import ApiToken, create_token, revoke_token

    anonymous = client.get("/api/v1/tasks")
    assert (anonymous.status_code, anonymous.json["error"]) == (401, "authentication_required")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401

    issued = create_token(db_session, world.org.clerk, "integration")
    read_only = bearer(db_session, world.org.clerk, ("read",))
    db_session.commit()
    headers = {"Authorization": f"Bearer {issued.secret}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json["username"] == world.org.clerk.username
    # Bearer writes need no CSRF token: no cookie is involved.
    assert client.post(f"/api/v1/tasks/{world.task_id}/claim", headers=headers).status_code == 200
    scoped = client.post(f"/api/v1/tasks/{world.task_id}/release", headers=read_only)
    assert (scoped.status_code, scoped.json["error"]) == (403, "token_scope_missing")
    assert client.get("/api/v1/tasks", headers=read_only).status_code == 200
    db_session.expire_all()
    assert db_session.get(ApiToken, issued.token.id).last_used_at is not None  # type: ignore[union-attr]

    revoke_token(db_session, issued.token.id)
    db_session.commit()
    revoked = client.get("/api/v1/tasks", headers=headers)
    assert (revoked.status_code, revoked.json["error"]) == (401, "token_invalid")

    expiring = create_token(db_session, world.org.clerk, "short", expires_at=utcnow() + timedelta(hours=1))
    expiring.token.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    expired = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {expiring.secret}"})
    assert (expired.status_code, expired.json["error"]) == (401, "token_invalid")
    made_up = client.get("/api/v1/tasks", headers={"Authorization": "Bearer polis_madeup"})
    assert made_up.status_code == 401


def test_cookie_session_writes_need_the_csrf_token(client: Any, world: World, db_session: Session) -> None:
    sign_in(client, world.org.clerk)
    refused = client.post(f"/api/v1/tasks/{world.task_id}/claim")
    assert (refused.status_code, refused.json["error"]) == (403, "csrf_token_invalid")
    wrong = client.post(f"/api/v1/tasks/{world.task_id}/claim", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    db_session.expire_all()
    task = db_session.get(CaseTask, world.task_id)
    assert task is not None and task.assignee_id is None
    token = client.get("/api/v1/me").json["csrf_token"]
    accepted = client.post(f"/api/v1/tasks/{world.task_id}/claim", headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200


def test_case_detail_lists_files_with_links_notifications_and_incidents(
    client: Any, world: World, db_session: Session, object_store: Any
) -> None:
    from core.clock import utcnow
    from engine.notifications.outbox import enqueue_notification
    from engine.requests.files import add_case_file
    from engine.workflow.models import Incident

    pdf = b"%PDF-1.7\n% a test file\n"
    add_case_file(
        db_session, object_store, world.case_id, "attachment", "ταυτότητα.pdf", "application/pdf", pdf
    )
    enqueue_notification(
        db_session,
        channel="email",
        recipient="citizen@example.org",
        locale="el",
        template_key="request_received",
        values={
            "case_number": world.case_number,
            "tracking_url": "http://polis.test/t/x",
            "tracking_code": "x",
            "service_title": "Τ",
            "applicant_name": "Α. Πολίτης",
            "municipality_name": "Δήμος",
        },
        case_id=world.case_id,
    )
    incident = Incident(
        case_id=world.case_id,
        task_id=world.task_id,
        bpmn_id="Task_Render",
        handler="render_certificate",
        error="renderer unavailable",
        attempts=5,
        created_at=utcnow(),
    )
    db_session.add(incident)
    db_session.commit()

    sign_in(client, world.org.clerk)
    case = client.get(f"/api/v1/cases/{world.case_id}").json
    [attachment] = case["files"]
    assert (attachment["filename"], attachment["size"]) == ("ταυτότητα.pdf", len(pdf))
    download = client.get(attachment["download_url"].removeprefix("http://polis.test"))
    assert (download.status_code, download.data) == (200, pdf)
    [notice] = case["notifications"]
    assert (notice["channel"], notice["status"], notice["template_key"]) == (
        "email",
        "queued",
        "request_received",
    )
    [shown] = case["incidents"]
    assert (shown["handler"], shown["resolved_at"]) == ("render_certificate", None)

    admin = world.org.outsider
    admin.roles = ["admin"]
    db_session.commit()
    admin_client = client.application.test_client()
    headers = sign_in(admin_client, admin)
    retried = admin_client.post(f"/api/v1/incidents/{incident.id}/retry", headers=headers)
    assert retried.status_code == 200, retried.json
    again = admin_client.post(f"/api/v1/incidents/{incident.id}/retry", headers=headers)
    assert again.status_code == 404
    after = client.get(f"/api/v1/cases/{world.case_id}").json
    assert after["incidents"][0]["resolved_at"] is not None
    assert after["timeline"][-1]["action"] == "incident_retried"
    events = db_session.scalars(select(AdminEvent).where(AdminEvent.action == "incident.retry")).all()
    assert [(e.actor_id, e.details["incident"]) for e in events] == [(admin.id, incident.id)]
