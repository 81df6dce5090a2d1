"""The administration pages added for running Polis: units edited in place, the org chart file
(preview, then apply only that file), processes with their diagrams, timer schedules,
incidents, API tokens, the service catalogue; and heads naming their own substitute."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.people.acting import acting_staff
from engine.people.admin_audit import AdminEvent, verify_admin_chain
from engine.people.demo import DEMO_CSV, seed_demo_municipality
from engine.people.models import Department, User
from engine.people.substitutions import athens_today
from engine.people.tokens import authenticate_token
from engine.workflow.commands import complete_task, start_case
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask, TimerSchedule
from tests.web.test_admin_pages import _sign_in


@pytest.fixture
def demo(db_session):
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    db_session.commit()


def _actions(db_session) -> list[str]:
    return list(db_session.scalars(select(AdminEvent.action).order_by(AdminEvent.seq)))


def test_units_are_added_renamed_and_moved_in_the_page_and_a_cycle_is_refused(client, demo, db_session):
    token = _sign_in(client, "admin")
    unit = {"code": "DHM-KOIN", "name_el": "Γραφείο Κοιμητηρίων", "name_en": "Cemeteries", "kind": "office"}
    added = client.post("/admin/units", data={"_csrf": token, **unit, "parent": "DHM"})
    assert added.status_code == 302
    tree = client.get("/admin").get_data(as_text=True)
    assert "Γραφείο Κοιμητηρίων" in tree and 'href="/admin/units/DHM-KOIN"' in tree
    again = client.post("/admin/units", data={"_csrf": token, **unit})
    assert again.status_code == 422 and "DHM-KOIN" in again.get_data(as_text=True)
    nameless = client.post("/admin/units", data={"_csrf": token, **unit, "code": "NEW", "name_en": ""})
    assert nameless.status_code == 422
    assert "Δώστε το όνομα της μονάδας στα ελληνικά και στα αγγλικά." in nameless.get_data(as_text=True)

    renamed = client.post(
        "/admin/units/DHM-KOIN/rename",
        data={"_csrf": token, "name_el": "Κοιμητήρια", "name_en": "Cemeteries"},
    )
    assert renamed.status_code == 302
    assert "Κοιμητήρια" in client.get("/admin/units/DHM-KOIN").get_data(as_text=True)
    cycle = client.post("/admin/units/DHM/move", data={"_csrf": token, "parent": "DHM-KOIN"})
    page = cycle.get_data(as_text=True)
    assert cycle.status_code == 422 and "DHM → DHM-KOIN" in page and "δεν μπορεί να μετακινηθεί" in page
    assert (
        client.post("/admin/units/DHM-KOIN/move", data={"_csrf": token, "parent": "OIK"}).status_code == 302
    )
    db_session.expire_all()
    moved = db_session.scalars(select(Department).where(Department.code == "DHM-KOIN")).one()
    oik = db_session.scalars(select(Department).where(Department.code == "OIK")).one()
    assert moved.parent_id == oik.id and moved.name_el == "Κοιμητήρια"
    assert _actions(db_session)[-3:] == ["unit.create", "unit.update", "unit.update"]
    assert verify_admin_chain(db_session) == []


def _upload(client, token: str, data: bytes):
    return client.post(
        "/admin/org/import",
        data={"_csrf": token, "file": (io.BytesIO(data), "orgchart.csv")},
        content_type="multipart/form-data",
    )


def test_the_org_chart_file_is_previewed_then_only_that_file_is_applied(client, demo, db_session):
    token = _sign_in(client, "admin")
    text = DEMO_CSV.read_text(encoding="utf-8")
    changed = text.replace("Ληξιαρχείο", "Ληξιαρχείο και Δημοτολόγιο").encode()
    imports = _actions(db_session).count("org.import")  # the demo seed's own import
    preview = _upload(client, token, changed)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "~ unit DHM" in page
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', page)
    assert sha is not None and sha.group(1) == hashlib.sha256(changed).hexdigest()

    # Another preview in between (another tab, say): the first confirmation no longer applies.
    _upload(client, token, changed + b"\n")
    refused = client.post("/admin/org/import/apply", data={"_csrf": token, "sha256": sha.group(1)})
    assert refused.status_code == 409 and "προεπισκόπηση" in refused.get_data(as_text=True)
    assert _actions(db_session).count("org.import") == imports
    _upload(client, token, changed)
    applied = client.post("/admin/org/import/apply", data={"_csrf": token, "sha256": sha.group(1)})
    assert applied.status_code == 302
    db_session.expire_all()
    dhm = db_session.scalars(select(Department).where(Department.code == "DHM")).one()
    assert "Δημοτολόγιο" in dhm.name_el and _actions(db_session).count("org.import") == imports + 1
    # Applying again needs a new preview.
    twice = client.post("/admin/org/import/apply", data={"_csrf": token, "sha256": sha.group(1)})
    assert twice.status_code == 409

    bad = (text + "Z,NOWHERE,office,Ζ,Z,,,,,,,,\nQ,,office,Q,Q,,Anna,anna,a@x.invalid,chief,,,\n").encode()
    problems = _upload(client, token, bad)
    page = problems.get_data(as_text=True)
    assert problems.status_code == 422 and "NOWHERE" in page and "chief" in page
    assert 'name="sha256"' not in page  # nothing to apply


def test_processes_timers_and_incidents_pages(client, demo, db_session):
    token = _sign_in(client, "admin")
    listing = client.get("/admin/processes").get_data(as_text=True)
    assert "/admin/processes/certificate_issuance" in listing
    page = client.get("/admin/processes/certificate_issuance").get_data(as_text=True)
    assert 'data-src="/admin/processes/certificate_issuance/1/diagram.json"' in page and "diagram.js" in page
    diagram = client.get("/admin/processes/certificate_issuance/1/diagram.json").get_json()
    assert "certificate_issuance" in diagram["xml"]
    assert client.get("/admin/processes/nope").status_code == 404

    timers = client.get("/admin/timers").get_data(as_text=True)
    assert "/admin/timers/protocol_daily_report/pause" in timers
    assert client.post("/admin/timers/protocol_daily_report/pause", data={"_csrf": token}).status_code == 302
    db_session.expire_all()
    assert db_session.get(TimerSchedule, "protocol_daily_report").paused is True
    assert "/admin/timers/protocol_daily_report/resume" in client.get("/admin/timers").get_data(as_text=True)
    assert client.post("/admin/timers/protocol_daily_report/resume", data={"_csrf": token}).status_code == 302
    missing = client.post("/admin/timers/nope/pause", data={"_csrf": token})
    assert missing.status_code == 404
    assert _actions(db_session)[-2:] == ["schedule.pause", "schedule.resume"]

    assert client.get("/admin/incidents").status_code == 200
    gone = client.post("/admin/incidents/999999/retry", data={"_csrf": token})
    assert gone.status_code == 404


def test_an_api_token_secret_is_shown_once_and_the_token_revoked(client, demo, db_session):
    token = _sign_in(client, "admin")
    created = client.post(
        "/admin/tokens",
        data={"_csrf": token, "name": "ΚΕΠ kiosk", "owner": "protokollo", "scopes": ["read", "write"]},
    )
    page = created.get_data(as_text=True)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-secret">([^<]+)<', page)
    assert secret is not None
    assert authenticate_token(db_session, secret.group(1)).user.username == "protokollo"
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "ΚΕΠ kiosk" in listing and secret.group(1) not in listing
    token_id = re.search(r"/admin/tokens/([0-9a-f-]{36})/revoke", listing)
    assert token_id is not None
    assert client.post(f"/admin/tokens/{token_id.group(1)}/revoke", data={"_csrf": token}).status_code == 302
    nameless = client.post("/admin/tokens", data={"_csrf": token, "name": "", "owner": "protokollo"})
    assert nameless.status_code == 422
    assert _actions(db_session)[-2:] == ["token.create", "token.revoke"]


def test_the_service_catalogue_switches(client, demo, db_session):
    token = _sign_in(client, "admin")
    assert "/admin/services/family_status/disable" in client.get("/admin/services").get_data(as_text=True)
    assert client.post("/admin/services/family_status/disable", data={"_csrf": token}).status_code == 302
    assert "/admin/services/family_status/enable" in client.get("/admin/services").get_data(as_text=True)
    assert client.post("/admin/services/nope/disable", data={"_csrf": token}).status_code == 404
    assert _actions(db_session)[-1] == "service.disable"


def test_deactivating_the_only_head_with_approvals_waiting_asks_for_a_new_head_first(
    client, demo, db_session
):
    dhm = db_session.scalars(select(Department).where(Department.code == "DHM")).one()
    case = start_case(db_session, "document_approval", department_id=dhm.id)
    prepare = db_session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
    clerk = db_session.scalars(select(User).where(User.username == "ypallilos")).one()
    complete_task(db_session, prepare.task_id, {"title": "x"}, acting_staff(db_session, clerk))
    db_session.commit()
    token = _sign_in(client, "admin")
    client.post("/admin/people/anaplirotis/deactivate", data={"_csrf": token})  # the other DHM head
    refused = client.post("/admin/people/proistamenos/deactivate", data={"_csrf": token})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and case.number in page
    # The form to add a position is filled in for a new head of the unit.
    assert re.search(r'<option value="DHM" selected>', page) and re.search(
        r'<option value="head" selected>', page
    )
    db_session.expire_all()
    assert db_session.scalars(select(User).where(User.username == "proistamenos")).one().is_active


def test_a_head_names_their_own_substitute_from_the_workspace(client, demo, db_session):
    token = _sign_in(client, "proistamenos")
    page = client.get("/work/substitute").get_data(as_text=True)
    assert "proistamenos.esodon" in page
    start = athens_today() + timedelta(days=1)
    form = {"_csrf": token, "substitute": "proistamenos.esodon", "reason": "άδεια"}
    dates = {"starts_on": start.isoformat(), "ends_on": (start + timedelta(days=6)).isoformat()}
    assert client.post("/work/substitute", data={**form, **dates}).status_code == 302
    listed = client.get("/work/substitute").get_data(as_text=True)
    assert f"{start:%d/%m/%Y}" in listed
    overlap = client.post(
        "/work/substitute",
        data={**form, "starts_on": (start + timedelta(days=2)).isoformat(), "ends_on": dates["ends_on"]},
    )
    text = overlap.get_data(as_text=True)
    assert overlap.status_code == 409 and f"{start:%d/%m/%Y}" in text and "Έχετε ήδη αναπληρωτή" in text
    past = client.post(
        "/work/substitute",
        data={**form, "starts_on": (start - timedelta(days=9)).isoformat(), "ends_on": dates["starts_on"]},
    )
    assert past.status_code == 422 and "αρχίζει στο παρελθόν" in past.get_data(as_text=True)
    assert _actions(db_session)[-1] == "substitution.create"
    client.post("/logout", data={"_csrf": token})
    clerk = _sign_in(client, "ypallilos")
    assert client.get("/work/substitute").status_code == 403
    assert client.post("/work/substitute", data={**form, **dates, "_csrf": clerk}).status_code == 403
