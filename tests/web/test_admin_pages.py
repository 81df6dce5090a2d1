"""The administration pages: administrators only; each change goes through the engine, audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.issuing.registry import IssuedDocument, issue_document
from engine.people.admin_audit import AdminEvent, verify_admin_chain
from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from engine.people.models import User
from engine.workflow.definitions import deploy_directory

PAGES = [
    "/admin",
    "/admin/people",
    "/admin/substitutions",
    "/admin/documents",
    "/admin/units/DHM",
    "/admin/org/import",
    "/admin/processes",
    "/admin/processes/document_approval",
    "/admin/processes/document_approval/1/diagram.json",
    "/admin/timers",
    "/admin/incidents",
    "/admin/tokens",
    "/admin/services",
]
WRITES = [
    "/admin/units",
    "/admin/units/DHM/rename",
    "/admin/units/DHM/move",
    "/admin/org/import",
    "/admin/org/import/apply",
    "/admin/timers/protocol_daily_report/pause",
    "/admin/timers/protocol_daily_report/resume",
    "/admin/incidents/1/retry",
    "/admin/tokens",
    "/admin/tokens/00000000-0000-0000-0000-000000000001/revoke",
    "/admin/services/family_status/disable",
    "/admin/services/family_status/enable",
    "/admin/people",
    "/admin/people/ypallilos/deactivate",
    "/admin/positions",
    "/admin/substitutions",
    "/admin/documents/ABC/revoke",
]


@pytest.fixture
def demo(db_session):
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    db_session.commit()


def _csrf(client, path: str) -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _sign_in(client, username: str) -> str:
    client.post(
        "/login", data={"_csrf": _csrf(client, "/login"), "username": username, "password": DEMO_PASSWORD}
    )
    return _csrf(client, "/")


def test_anonymous_visitors_are_sent_to_sign_in(client, demo):
    response = client.get("/admin")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_non_administrators_get_403_on_every_page_and_action(client, demo):
    token = _sign_in(client, "proistamenos")
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    for path in WRITES:
        assert client.post(path, data={"_csrf": token}).status_code == 403, path


def test_an_administrator_creates_deactivates_and_names_a_substitute(client, demo, db_session):
    token = _sign_in(client, "admin")
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    tree = client.get("/admin").get_data(as_text=True)
    assert "Δήμος Επίδειξης" in tree and "Αντιδήμαρχος Διοικητικών Υπηρεσιών" in tree

    created = client.post(
        "/admin/people",
        data={
            "_csrf": token,
            "username": "nea",
            "full_name": "Νέα Υπάλληλος",
            "unit": "DHM",
            "kind": "clerk",
        },
    )
    assert created.status_code == 302
    people = client.get("/admin/people").get_data(as_text=True)
    assert "Νέα Υπάλληλος" in people and "clerk@DHM" in people
    taken = client.post("/admin/people", data={"_csrf": token, "username": "nea", "full_name": "X"})
    assert taken.status_code == 422 and "is taken" in taken.get_data(as_text=True)
    position = {"person": "proistamenos.esodon", "position_unit": "OIK", "position_kind": "signatory"}
    added = client.post("/admin/positions", data={"_csrf": token, **position, "title": "Αντιδήμαρχος"})
    assert added.status_code == 302
    assert client.post("/admin/people/nea/deactivate", data={"_csrf": token}).status_code == 302
    assert db_session.scalars(select(User).where(User.username == "nea")).one().is_active is False

    form = {"_csrf": token, "unit": "DHM", "head": "proistamenos", "substitute": "proistamenos.esodon"}
    ok = client.post(
        "/admin/substitutions", data={**form, "starts_on": "2027-07-01", "ends_on": "2027-07-15"}
    )
    assert ok.status_code == 302
    overlap = client.post(
        "/admin/substitutions", data={**form, "starts_on": "2027-07-10", "ends_on": "2027-07-20"}
    )
    assert (
        overlap.status_code == 422
        and "01/07/2027" in overlap.get_data(as_text=True)
        and "15/07/2027" in overlap.get_data(as_text=True)
    )
    listed = client.get("/admin/substitutions").get_data(as_text=True)
    assert "01/07/2027" in listed and "Άννα Τζανακάκη" in listed

    actions = set(db_session.scalars(select(AdminEvent.action)))
    assert {"user.create", "position.assign", "user.deactivate", "substitution.create"} <= actions
    assert verify_admin_chain(db_session) == []


def test_an_administrator_finds_and_revokes_a_document(client, demo, db_session):
    document = issue_document(
        db_session,
        title="Βεβαίωση μόνιμης κατοικίας",
        pdf=b"%PDF-1.7",
        storage_key="k/2",
        protocol_number="77 ΕΞ 2027",
    )
    db_session.commit()
    token = _sign_in(client, "admin")
    found = client.get("/admin/documents?q=77 ΕΞ").get_data(as_text=True)
    assert document.verification_code in found
    short = client.post(
        f"/admin/documents/{document.verification_code}/revoke", data={"_csrf": token, "reason": "x"}
    )
    assert short.status_code == 422
    done = client.post(
        f"/admin/documents/{document.verification_code}/revoke",
        data={"_csrf": token, "reason": "wrong address"},
    )
    assert done.status_code == 302
    db_session.expire_all()
    revoked = db_session.scalars(select(IssuedDocument).where(IssuedDocument.id == document.id)).one()
    assert (revoked.status, revoked.revocation_reason) == ("revoked", "wrong address")
    page = client.get(f"/verify/{document.verification_code}").get_data(as_text=True)
    assert "wrong address" in page


def test_an_emailed_password_link_sets_the_password_once(client, demo, db_session):
    from engine.notifications.models import Notification

    token = _sign_in(client, "admin")
    sent = client.post("/admin/people/ypallilos/reset-link", data={"_csrf": token})
    assert sent.status_code == 302
    notice = db_session.scalars(
        select(Notification).where(Notification.template_key == "staff_password_reset")
    ).one()
    assert notice.recipient == "ypallilos@demo.polis.invalid"
    link = re.search(r"/staff/password/\S+", notice.body_text)
    assert link is not None
    path = link.group(0)
    client.post("/logout", data={"_csrf": token})

    page = client.get(path)
    assert page.status_code == 200 and "Ορίστε τον κωδικό σας" in page.get_data(as_text=True)
    form_token = _csrf(client, path)
    differ = client.post(
        path, data={"_csrf": form_token, "password": "new-pass-123", "password_again": "other"}
    )
    assert differ.status_code == 422
    done = client.post(
        path, data={"_csrf": form_token, "password": "new-pass-123", "password_again": "new-pass-123"}
    )
    assert done.status_code == 200 and "Ο κωδικός σας ορίστηκε." in done.get_data(as_text=True)
    again = client.post(
        path, data={"_csrf": form_token, "password": "third-pass-1", "password_again": "third-pass-1"}
    )
    assert again.status_code == 422 and "already used" in again.get_data(as_text=True)
    signed_in = client.post(
        "/login", data={"_csrf": _csrf(client, "/login"), "username": "ypallilos", "password": "new-pass-123"}
    )
    assert signed_in.status_code == 302
    actions = list(db_session.scalars(select(AdminEvent.action).order_by(AdminEvent.seq.desc()).limit(2)))
    assert actions == ["user.set_password", "user.reset_link_sent"]
