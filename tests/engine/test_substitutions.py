"""Positions and dated substitutions: who acts as head, for whom, and only inside the dates."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ATHENS
from core.errors import InvalidInput, NotFound
from engine.people.acting import (
    PositionNotHeld,
    account_with_positions,
    acting_staff,
    position_choices,
    switch_position,
)
from engine.people.admin_audit import CLI_OPERATOR, verify_admin_chain
from engine.people.models import Department, User
from engine.people.orgchart import OpenApprovalsNeedAHead, assign_position, deactivate_staff
from engine.people.substitutions import SubstitutionOverlaps, SubstitutionRefused, name_substitute
from engine.workflow.audit import case_history
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.models import Case, CaseTask
from engine.workflow.task_index import approval_queue, my_tasks
from engine.workflow.timers import fire_due_wakeups_in
from tests.engine.conftest import Org

# A Wednesday in Athens; "tomorrow" is Thursday and "next week" the Wednesday after.
TODAY = datetime(2027, 3, 10, 9, 0, tzinfo=ATHENS)
TOMORROW = TODAY.date() + timedelta(days=1)
NEXT_WEEK = TODAY.date() + timedelta(days=7)


def _with_positions(session: Session, org: Org) -> User:
    """Give the test org positions; a second unit's head is the one who may substitute."""
    assign_position(session, org.head, org.department, "head", by=CLI_OPERATOR)
    for clerk in (org.clerk, org.clerk2):
        assign_position(session, clerk, org.department, "clerk", by=CLI_OPERATOR)
    # The stand-in heads the other unit and so has a head's rights to use.
    assign_position(session, org.outsider, org.other, "head", by=CLI_OPERATOR)
    return org.outsider


def _head_review(session: Session, org: Org) -> CaseTask:
    case = start_case(session, "document_approval", department_id=org.department.id)
    prepare = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
    complete_task(session, prepare.task_id, {"title": "Άδεια"}, acting_staff(session, org.clerk))
    session.expire_all()
    return session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()


def _queue_ids(session: Session, user: User, at: datetime) -> list[uuid.UUID]:
    with time_machine.travel(at, tick=False):
        acting = acting_staff(session, user, f"sub:{_only_substitution(session, user)}")
        return [item.task_id for item in approval_queue(session, acting)]


def _only_substitution(session: Session, user: User) -> str:
    from engine.people.models import Substitution

    row = session.scalars(select(Substitution).where(Substitution.substitute_user_id == user.id)).one()
    return str(row.id)


def test_a_substitution_from_tomorrow_to_next_week_routes_approvals_only_inside_it(
    db_session: Session, org: Org
) -> None:
    stand_in = _with_positions(db_session, org)
    with time_machine.travel(TODAY, tick=False):
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=stand_in,
            starts_on=TOMORROW,
            ends_on=NEXT_WEEK,
            by=CLI_OPERATOR,
            reason="annual leave",
        )
        review = _head_review(db_session, org)
        # Today: the stand-in has only their own position and sees no approval of this unit.
        acting_today = acting_staff(db_session, stand_in)
        assert [c.kind for c in acting_today.choices] == ["head"]
        assert acting_today.department_id == org.other.id
        assert approval_queue(db_session, acting_today) == []
    inside = datetime.combine(TOMORROW, datetime.min.time(), ATHENS) + timedelta(hours=10)
    assert _queue_ids(db_session, stand_in, inside) == [review.task_id]
    last_day = datetime.combine(NEXT_WEEK, datetime.min.time(), ATHENS) + timedelta(hours=23)
    assert _queue_ids(db_session, stand_in, last_day) == [review.task_id]
    after = datetime.combine(NEXT_WEEK + timedelta(days=1), datetime.min.time(), ATHENS) + timedelta(hours=9)
    with time_machine.travel(after, tick=False):
        acting = acting_staff(db_session, stand_in, f"sub:{_only_substitution(db_session, stand_in)}")
        assert acting.position.acting_for_id is None  # the remembered choice ran out
        assert approval_queue(db_session, acting) == []
        with pytest.raises(PositionNotHeld):
            switch_position(db_session, stand_in, f"sub:{_only_substitution(db_session, stand_in)}")

    # Inside the range the stand-in decides, and the audit says for whom.
    with time_machine.travel(inside, tick=False):
        acting = switch_position(db_session, stand_in, f"sub:{_only_substitution(db_session, stand_in)}")
        assert acting.department_id == org.department.id and acting.roles == ("head",)
        complete_task(db_session, review.task_id, {"decision": "approve"}, acting)
    case = db_session.get(Case, review.case_id)
    assert case is not None
    db_session.refresh(case)
    assert case.status == "completed"
    last = case_history(db_session, case.id)[-2]
    assert last.action == "task_completed"
    assert last.actor == f"{stand_in.full_name} for {org.head.full_name}"


def test_tasks_assigned_to_the_absent_head_reach_the_substitute(db_session: Session, org: Org) -> None:
    stand_in = _with_positions(db_session, org)
    with time_machine.travel(TODAY, tick=False):
        review = _head_review(db_session, org)
        claim_task(db_session, review.task_id, acting_staff(db_session, org.head))
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=stand_in,
            starts_on=TOMORROW,
            ends_on=NEXT_WEEK,
            by=CLI_OPERATOR,
        )
    inside = datetime.combine(TOMORROW, datetime.min.time(), ATHENS) + timedelta(hours=10)
    with time_machine.travel(inside, tick=False):
        acting = acting_staff(db_session, stand_in, f"sub:{_only_substitution(db_session, stand_in)}")
        assert [i.task_id for i in my_tasks(db_session, acting)] == [review.task_id]
        complete_task(db_session, review.task_id, {"decision": "approve"}, acting)


def test_escalation_goes_to_the_running_substitution_else_to_the_configured_substitute(
    db_session: Session, org: Org
) -> None:
    stand_in = _with_positions(db_session, org)
    with time_machine.travel(TODAY, tick=False):
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=stand_in,
            starts_on=TOMORROW,
            ends_on=NEXT_WEEK,
            by=CLI_OPERATOR,
        )
        review = _head_review(db_session, org)
    case_id = review.case_id
    assert review.due_at is not None
    # The SLA runs out inside the substitution: the escalated task goes to the stand-in.
    due = max(review.due_at, datetime.combine(TOMORROW, datetime.min.time(), ATHENS)) + timedelta(hours=1)
    assert due.astimezone(ATHENS).date() <= NEXT_WEEK
    with time_machine.travel(due, tick=False):
        assert fire_due_wakeups_in(db_session) == 1
    db_session.expire_all()
    escalated = db_session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).one()
    assert escalated.bpmn_id == "Task_SubstituteReview"
    assert escalated.assignee_id == stand_in.id

    # Outside any substitution the configured substitute gets it, as before.
    with time_machine.travel(TODAY, tick=False):
        other_case_id = _head_review(db_session, org).case_id
    far = datetime.combine(NEXT_WEEK + timedelta(days=30), datetime.min.time(), ATHENS)
    with time_machine.travel(far, tick=False):
        assert fire_due_wakeups_in(db_session) == 1
    db_session.expire_all()
    later = db_session.scalars(select(CaseTask).where(CaseTask.case_id == other_case_id)).one()
    assert later.assignee_id == org.substitute.id


def test_overlapping_substitution_is_refused_with_the_dates(db_session: Session, org: Org) -> None:
    stand_in = _with_positions(db_session, org)
    name_substitute(
        db_session,
        unit=org.department,
        head=org.head,
        substitute=stand_in,
        starts_on=date(2027, 3, 11),
        ends_on=date(2027, 3, 17),
        by=CLI_OPERATOR,
    )
    with pytest.raises(SubstitutionOverlaps, match="from 11/03/2027 to 17/03/2027"):
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=stand_in,
            starts_on=date(2027, 3, 15),
            ends_on=date(2027, 3, 20),
            by=CLI_OPERATOR,
        )
    # Adjacent days do not overlap.
    name_substitute(
        db_session,
        unit=org.department,
        head=org.head,
        substitute=stand_in,
        starts_on=date(2027, 3, 18),
        ends_on=date(2027, 3, 20),
        by=CLI_OPERATOR,
    )
    assert verify_admin_chain(db_session) == []


def test_a_substitute_without_a_head_position_is_refused(db_session: Session, org: Org) -> None:
    _with_positions(db_session, org)
    with pytest.raises(SubstitutionRefused, match="holds no head position"):
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=org.clerk,
            starts_on=TOMORROW,
            ends_on=NEXT_WEEK,
            by=CLI_OPERATOR,
        )
    assert isinstance(SubstitutionRefused("x"), InvalidInput)


def test_a_person_with_two_positions_acts_in_one_at_a_time(db_session: Session, org: Org) -> None:
    _with_positions(db_session, org)
    signatory = assign_position(
        db_session, org.head, org.other, "signatory", by=CLI_OPERATOR, title="Αντιδήμαρχος"
    )
    default = acting_staff(db_session, org.head)
    assert (default.department_id, default.roles) == (org.department.id, ("head",))
    assert [c.kind for c in default.choices] == ["head", "signatory"]
    as_signatory = switch_position(db_session, org.head, str(signatory.id))
    assert (as_signatory.department_id, as_signatory.roles) == (org.other.id, ("signatory",))
    assert as_signatory.position.label("el").startswith("Αντιδήμαρχος · ")
    with pytest.raises(PositionNotHeld):
        switch_position(db_session, org.clerk, str(signatory.id))


def test_a_person_without_positions_acts_as_before(db_session: Session, org: Org) -> None:
    acting = acting_staff(db_session, org.substitute)
    assert acting.department_id == org.department.id
    assert acting.roles == ("head", "clerk")
    assert acting.full_name == org.substitute.full_name


def test_deactivating_the_only_head_with_open_approvals_is_refused_naming_them(
    db_session: Session, org: Org
) -> None:
    _with_positions(db_session, org)
    review = _head_review(db_session, org)
    case = db_session.get(Case, review.case_id)
    assert case is not None
    with pytest.raises(OpenApprovalsNeedAHead, match=case.number):
        deactivate_staff(db_session, org.head, by=CLI_OPERATOR)
    assert org.head.is_active
    # With a second head the first may leave.
    assign_position(db_session, org.substitute, org.department, "head", by=CLI_OPERATOR)
    deactivate_staff(db_session, org.head, by=CLI_OPERATOR)
    assert not org.head.is_active
    unit = db_session.get(Department, org.department.id)
    assert unit is not None and unit.head_user_id == org.substitute.id
    assert verify_admin_chain(db_session) == []


@pytest.mark.parametrize(("lang", "title"), [("el", "Έλεγχος εγγράφου"), ("en", "Review document")])
def test_the_only_head_refusal_names_the_tasks_in_the_readers_language(
    db_session: Session, org: Org, app: Any, lang: str, title: str
) -> None:
    from web.pages.org_messages import org_problem

    _with_positions(db_session, org)
    review = _head_review(db_session, org)
    case = db_session.get(Case, review.case_id)
    assert case is not None
    with pytest.raises(OpenApprovalsNeedAHead) as refused:
        deactivate_staff(db_session, org.head, by=CLI_OPERATOR)
    with app.test_request_context(f"/admin/people?lang={lang}"):
        message = org_problem(refused.value)
    assert f"{case.number} {title}" in message, message


def test_the_staff_session_read_lists_the_same_positions_in_one_round_trip(
    db_session: Session, org: Org
) -> None:
    """What every staff request reads (web.auth.staff.current_user) in one query: the same
    positions, substitutions and order as position_choices, dates included."""
    stand_in = _with_positions(db_session, org)
    assign_position(db_session, stand_in, org.department, "signatory", by=CLI_OPERATOR, title="Αντιδήμαρχος")
    assign_position(db_session, stand_in, org.other, "clerk", by=CLI_OPERATOR)
    with time_machine.travel(TODAY, tick=False):
        name_substitute(
            db_session,
            unit=org.department,
            head=org.head,
            substitute=stand_in,
            starts_on=TOMORROW,
            ends_on=NEXT_WEEK,
            by=CLI_OPERATOR,
            reason="annual leave",
        )
    for moment, substituting in ((TODAY, False), (TODAY + timedelta(days=2), True)):
        with time_machine.travel(moment, tick=False):
            db_session.expire_all()
            user, choices = account_with_positions(db_session, str(stand_in.id))
            assert user is stand_in
            assert choices == position_choices(db_session, stand_in)
            assert [c.kind for c in choices] == ["head", "clerk", "signatory"] + (["head"] * substituting)
            assert choices[1].title is None and choices[2].title == "Αντιδήμαρχος"
            if substituting:
                assert choices[-1].acting_for_id == org.head.id
                assert choices[-1].acting_for_name == org.head.full_name
    assert account_with_positions(db_session, org.substitute.id)[1] == []
    for missing in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            account_with_positions(db_session, missing)
