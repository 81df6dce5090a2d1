"""The administrators' engine services: each refuses a non-administrator, each change is in
the hash-chained admin log. Units edited in place (cycles refused), the org chart file bound
to its preview, timer schedules paused and resumed on the travelled clock, incidents retried,
API tokens, the service catalogue's switches, and heads naming their own substitute."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from engine.administration.org_file import PreviewMismatch, apply_org_file, preview_org_file
from engine.administration.runtime import (
    deployed_process,
    open_incident_rows,
    pause_schedule,
    retry_open_incident,
    timer_schedules,
    version_diagram,
    waiting_timers,
)
from engine.administration.services import (
    ServiceDisabled,
    check_service_open,
    offered_services,
    switch_service,
)
from engine.administration.tokens import issue_token, token_rows, withdraw_token
from engine.administration.units import UnitCycle, add_unit, move_unit, rename_unit
from engine.people.acting import ActingStaff, acting_staff
from engine.people.admin_audit import AdminEvent, verify_admin_chain
from engine.people.demo import DEMO_CSV, seed_demo_municipality
from engine.people.models import Department, User
from engine.people.own_substitute import NotActingAsHead, name_own_substitute, own_substitutions
from engine.people.substitutions import SubstitutionOverlaps, SubstitutionRefused, athens_today
from engine.people.tokens import ApiToken, authenticate_token
from engine.people.visibility import NotAdministrator
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.models import Wakeup
from engine.workflow.timer_starts import fire_due_timer_start
from forms.catalogue import list_services
from tests.engine.test_timer_starts import T0, cases_of, deploy_at, schedule_of, timer_process
from tests.reliability.test_retry_cap import TIMER_THEN_BREAK, _drain_until_incident


@pytest.fixture
def demo(db_session: Session) -> Session:
    seed_demo_municipality(db_session)
    return db_session


def staff(session: Session, username: str) -> ActingStaff:
    user = session.scalars(select(User).where(User.username == username)).one()
    return acting_staff(session, user)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AdminEvent.action).order_by(AdminEvent.seq)))


def test_units_are_added_renamed_and_moved_and_a_cycle_is_refused_with_its_path(demo: Session) -> None:
    admin = staff(demo, "admin")
    unit = add_unit(
        demo,
        admin,
        code="dhm-koin",
        name_el="Γραφείο Κοιμητηρίων",
        name_en="Cemeteries office",
        kind="office",
        parent_code="DHM",
    )
    assert unit.code == "DHM-KOIN"
    rename_unit(demo, admin, "DHM-KOIN", name_el="Γραφείο Κοιμητηρίων Δήμου", name_en="Cemeteries")
    assert (unit.name_el, unit.name_en) == ("Γραφείο Κοιμητηρίων Δήμου", "Cemeteries")
    dhm = demo.scalars(select(Department).where(Department.code == "DHM")).one()
    # DHM-KOIN is inside DHM: DHM cannot move under it, nor under itself.
    with pytest.raises(UnitCycle) as cycle:
        move_unit(demo, admin, "DHM", "DHM-KOIN")
    assert "DHM → DHM-KOIN" in cycle.value.message and cycle.value.details["route"] == "DHM → DHM-KOIN"
    with pytest.raises(UnitCycle):
        move_unit(demo, admin, "DHM", "DHM")
    old_parent = dhm.parent_id
    move_unit(demo, admin, "DHM-KOIN", "OIK")
    assert unit.parent_id != dhm.id and dhm.parent_id == old_parent
    move_unit(demo, admin, "DHM-KOIN", None)
    assert unit.parent_id is None
    with pytest.raises(NotAdministrator):
        add_unit(
            demo,
            staff(demo, "proistamenos"),
            code="X",
            name_el="Χ",
            name_en="X",
            kind="office",
            parent_code=None,
        )
    assert actions(demo)[-4:] == ["unit.create", "unit.update", "unit.update", "unit.update"]
    assert verify_admin_chain(demo) == []


def test_the_org_file_is_applied_only_as_previewed(demo: Session) -> None:
    admin = staff(demo, "admin")
    changed = DEMO_CSV.read_text(encoding="utf-8").replace("Ληξιαρχείο", "Ληξιαρχείο και Δημοτολόγιο")
    data = changed.encode()
    before = len(actions(demo))
    preview = preview_org_file(demo, admin, data)
    assert preview.applicable and preview.sha256 == hashlib.sha256(data).hexdigest()
    assert any(c.startswith("~ unit DHM") for c in preview.changes), preview.changes
    assert len(actions(demo)) == before  # a preview changes nothing
    # Only this administrator's last previewed file is applied, by the digest they confirm.
    other = hashlib.sha256(data + b"\n").hexdigest()
    with pytest.raises(PreviewMismatch):
        apply_org_file(demo, admin, other, preview.sha256)
    with pytest.raises(PreviewMismatch):
        apply_org_file(demo, staff(demo, "admin"), preview.sha256, None)  # no preview remembered
    applied = apply_org_file(demo, admin, preview.sha256, preview.sha256)
    assert applied.changes == preview.changes and actions(demo)[-1] == "org.import"
    with pytest.raises(PreviewMismatch):  # applied once; a second confirmation finds nothing kept
        apply_org_file(demo, admin, preview.sha256, preview.sha256)
    assert preview_org_file(demo, admin, data).changes == []
    bad = preview_org_file(demo, admin, (changed + "Z,NOWHERE,office,Ζ,Z,,,,,,,,\n").encode())
    assert not bad.applicable and any("NOWHERE" in p and p.startswith("line ") for p in bad.problems)
    with pytest.raises(NotAdministrator):
        preview_org_file(demo, staff(demo, "proistamenos"), data)


def test_a_paused_schedule_does_not_fire_and_a_resumed_one_fires_at_its_next_due_time(demo: Session) -> None:
    admin = staff(demo, "admin")
    deploy_at(demo, T0, timer_process("R/PT1H", "DHM"))
    [row] = [r for r in timer_schedules(demo, admin) if r.schedule.process_id == "hourly_check"]
    assert row.schedule.next_due_at == T0 + timedelta(hours=1)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        pause_schedule(demo, admin, "hourly_check", paused=True)
    # Its due time passes with the worker running: nothing starts.
    assert fire_due_timer_start(demo, T0 + timedelta(hours=1, minutes=1)) is None
    assert fire_due_timer_start(demo, T0 + timedelta(hours=2, minutes=1)) is None
    assert cases_of(demo) == []
    with time_machine.travel(T0 + timedelta(hours=2, minutes=30), tick=False):
        pause_schedule(demo, admin, "hourly_check", paused=False)
    assert schedule_of(demo).next_due_at == T0 + timedelta(hours=3)  # the next one, no catch-up
    assert fire_due_timer_start(demo, T0 + timedelta(hours=2, minutes=59)) is None
    assert fire_due_timer_start(demo, T0 + timedelta(hours=3, minutes=1)) is not None
    assert len(cases_of(demo)) == 1
    assert actions(demo)[-2:] == ["schedule.pause", "schedule.resume"]
    with pytest.raises(NotAdministrator):
        pause_schedule(demo, staff(demo, "proistamenos"), "hourly_check", paused=True)


def test_an_incident_is_listed_with_its_error_and_retried(demo: Session) -> None:
    admin = staff(demo, "admin")
    dhm = demo.scalars(select(Department).where(Department.code == "DHM")).one()
    deploy_definition(demo, TIMER_THEN_BREAK, "timer_then_break.bpmn")
    case = start_case(demo, "timer_then_break", department_id=dhm.id)
    [waiting] = [t for t in waiting_timers(demo, admin) if t.case_id == case.id]
    assert waiting.case_number == case.number and waiting.due_at > utcnow()
    _drain_until_incident(demo, case.id)
    [row] = [r for r in open_incident_rows(demo, admin) if r.incident.case_id == case.id]
    assert row.case_number == case.number and "ZeroDivisionError" in row.incident.error
    with pytest.raises(NotAdministrator):
        retry_open_incident(demo, staff(demo, "proistamenos"), row.incident.id)
    retry_open_incident(demo, admin, row.incident.id)
    assert [r for r in open_incident_rows(demo, admin) if r.incident.case_id == case.id] == []
    assert demo.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).one().attempts == 0
    assert actions(demo)[-1] == "incident.retry"
    # The process page's data: its versions and each version's diagram.
    process = deployed_process(demo, admin, "timer_then_break")
    assert process.newest.version == 1 and process.newest.cases == 1
    assert "timer_then_break" in version_diagram(demo, admin, "timer_then_break", 1)


def test_an_api_token_is_shown_once_listed_and_revoked(demo: Session) -> None:
    admin = staff(demo, "admin")
    issued = issue_token(
        demo, admin, owner="protokollo", name="ΚΕΠ kiosk", scopes=["read"], expires_on=date(2030, 1, 1)
    )
    assert authenticate_token(demo, issued.secret).user.username == "protokollo"
    [row] = [r for r in token_rows(demo, admin) if r.token.id == issued.token.id]
    assert row.state == "active" and row.token.scopes == ["read"]
    event = demo.scalars(select(AdminEvent).order_by(AdminEvent.seq.desc())).first()
    assert event is not None and event.action == "token.create"
    assert issued.secret not in str(event.details) and event.details["hint"] == issued.token.hint
    assert issued.secret not in str(demo.scalars(select(ApiToken.token_hash)).all())
    withdraw_token(demo, admin, str(issued.token.id))
    withdraw_token(demo, admin, str(issued.token.id))  # twice: audited once
    assert actions(demo)[-2:] == ["token.create", "token.revoke"]
    with pytest.raises(NotAdministrator):
        token_rows(demo, staff(demo, "proistamenos"))


def test_a_switched_off_service_leaves_the_catalogue_and_refuses_new_requests(demo: Session) -> None:
    admin = staff(demo, "admin")
    code = list_services()[0].code
    assert switch_service(demo, admin, code, enabled=False) is True
    assert switch_service(demo, admin, code, enabled=False) is False  # no change, no event
    assert code not in {s.code for s in offered_services(demo)}
    with pytest.raises(ServiceDisabled, match="does not accept new requests"):
        check_service_open(demo, code)
    switch_service(demo, admin, code, enabled=True)
    check_service_open(demo, code)
    assert code in {s.code for s in offered_services(demo)}
    assert actions(demo)[-2:] == ["service.disable", "service.enable"]
    with pytest.raises(NotAdministrator):
        switch_service(demo, staff(demo, "proistamenos"), code, enabled=False)


def test_a_head_names_their_own_substitute_and_an_overlap_is_refused_with_the_dates(demo: Session) -> None:
    head = staff(demo, "proistamenos")
    overview = own_substitutions(demo, head)
    assert overview.unit.code == "DHM" and "proistamenos.esodon" in dict(overview.candidates)
    start = athens_today() + timedelta(days=1)
    name_own_substitute(
        demo,
        head,
        substitute="proistamenos.esodon",
        starts_on=start,
        ends_on=start + timedelta(days=6),
        reason="άδεια",
    )
    with pytest.raises(SubstitutionOverlaps) as overlap:
        name_own_substitute(
            demo,
            head,
            substitute="proistamenos.esodon",
            starts_on=start + timedelta(days=3),
            ends_on=start + timedelta(days=10),
            reason=None,
        )
    assert overlap.value.details["starts_on"] == f"{start:%d/%m/%Y}"
    assert overlap.value.details["ends_on"] == f"{start + timedelta(days=6):%d/%m/%Y}"
    with pytest.raises(SubstitutionRefused, match="in the past"):
        name_own_substitute(
            demo,
            head,
            substitute="proistamenos.esodon",
            starts_on=start - timedelta(days=5),
            ends_on=start - timedelta(days=2),
            reason=None,
        )
    with pytest.raises(NotActingAsHead):
        own_substitutions(demo, staff(demo, "ypallilos"))
    assert [v.state for v in own_substitutions(demo, head).substitutions] == ["upcoming"]
    assert actions(demo)[-1] == "substitution.create"
    event = demo.scalars(select(AdminEvent).order_by(AdminEvent.seq.desc())).first()
    assert event is not None and event.actor == head.user.full_name


def test_a_substitute_acting_for_a_head_cannot_name_that_heads_substitute(demo: Session) -> None:
    head = staff(demo, "proistamenos")
    today = athens_today()
    name_own_substitute(
        demo, head, substitute="proistamenos.esodon", starts_on=today, ends_on=today, reason="άδεια"
    )
    esodon = demo.scalars(select(User).where(User.username == "proistamenos.esodon")).one()
    standing_in = next(c for c in acting_staff(demo, esodon).choices if c.acting_for_id == head.user.id)
    acting_for = acting_staff(demo, esodon, standing_in.key)
    with pytest.raises(NotActingAsHead):
        name_own_substitute(
            demo,
            acting_for,
            substitute="proistamenos.koinonikis",
            starts_on=today,
            ends_on=today,
            reason=None,
        )
    # In their own head position (of OIK) they may.
    own = name_own_substitute(
        demo,
        staff(demo, "proistamenos.esodon"),
        substitute="proistamenos.koinonikis",
        starts_on=today,
        ends_on=today,
        reason=None,
    )
    assert own.head_user_id == esodon.id
