"""The tracking timeline comes from the process: a BPMN file that declares its own milestones
(names, Greek and English labels, main path) gets a truthful tracking page without code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.people.models import Department, User
from engine.requests.tracking import track
from engine.workflow.commands import claim_task, complete_task, start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.errors import DeploymentError
from engine.workflow.models import Case, CaseTask

#: A new process with its own milestones (a municipality could draw it in Camunda Modeler).
_PROCESS = (Path(__file__).parent / "pothole_report.bpmn").read_text(encoding="utf-8")


def _steps(session: Session, code: str, locale: str = "el") -> list[tuple[str, str, str]]:
    return [(m["code"], m["label"], m["state"]) for m in track(session, code).as_dict(locale)["timeline"]]


def _do_next_task(session: Session, case_id: Any, department: Department) -> None:
    task = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id)).one()
    clerk = next(
        u
        for u in session.scalars(select(User).where(User.department_id == department.id))
        if "clerk" in u.roles
    )
    claim_task(session, task.task_id, clerk)
    complete_task(session, task.task_id, {}, clerk)


def test_a_new_process_gets_its_own_tracking_page(municipality: Session, client: Any) -> None:
    deploy_definition(municipality, _PROCESS.encode(), "pothole_report.bpmn")
    department = municipality.scalars(select(Department).where(Department.code == "TEX")).one()
    case = start_case(municipality, "pothole_report", department_id=department.id, applicant={"name": "Άννα"})
    case_code = case.id
    tracking_code = municipality.get(Case, case.id).tracking_code  # type: ignore[union-attr]
    assert _steps(municipality, tracking_code) == [
        ("reported", "Καταγράφηκε", "done"),
        ("inspection", "Αυτοψία", "current"),  # a user task: the case waits there
        ("repair", "Επισκευή από συνεργείο", "next"),  # ahead: the "ahead" wording
        ("fixed", "Κλείσιμο", "next"),
    ]
    assert (
        track(municipality, tracking_code).as_dict("en")["timeline"][1]["now"]
        == "A crew will look at the pothole."
    )

    # The page itself: done, now and ahead drawn differently, the process's words in Greek.
    page = client.get(f"/track/{tracking_code}", headers={"Accept-Language": "el"}).get_data(as_text=True)
    assert "timeline__item--current" in page and "timeline__item--next" in page
    assert "Συνεργείο θα δει τη λακκούβα." in page and "Αυτοψία από συνεργείο" not in page
    english = client.get(f"/track/{tracking_code}?lang=en").get_data(as_text=True)
    assert "A crew will look at the pothole." in english and "Repair by a crew" in english

    _do_next_task(municipality, case_code, department)
    assert _steps(municipality, tracking_code, "en") == [
        ("reported", "Reported", "done"),
        ("inspection", "Inspected", "done"),
        ("repair", "Repair", "current"),
        ("fixed", "Closing", "next"),
    ]
    _do_next_task(municipality, case_code, department)
    state = track(municipality, tracking_code)
    assert state.status == "completed"
    assert [(m.code, m.state) for m in state.timeline] == [
        ("reported", "done"),
        ("inspection", "done"),
        ("repair", "done"),
        ("fixed", "done"),
    ]
    assert [m["label"] for m in state.as_dict("el")["timeline"]][-1] == "Έκλεισε"


def test_the_tracking_page_asks_the_database_two_questions(municipality: Session) -> None:
    """The case with its definition's hash, and its milestone events: the milestone metadata
    is parsed once per process version and cached, never read per request."""
    deploy_definition(municipality, _PROCESS.encode(), "pothole_report.bpmn")
    department = municipality.scalars(select(Department).where(Department.code == "TEX")).one()
    case = start_case(municipality, "pothole_report", department_id=department.id)
    tracking_code = municipality.get(Case, case.id).tracking_code  # type: ignore[union-attr]
    track(municipality, tracking_code)  # warm: the definition is in the cache now
    statements: list[str] = []
    connection = municipality.connection()

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    try:
        track(municipality, tracking_code)
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(statements) == 2, statements


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda x: re.sub('<camunda:property name="polis:milestone:repair" [^>]*>', "", x),
            "milestone 'repair' has no labels",
        ),
        (
            lambda x: x.replace('value="reported inspection repair fixed"', 'value="reported payment fixed"'),
            "'payment' is on no node",
        ),
        (lambda x: x.replace("Καταγράφηκε | Reported", "Καταγράφηκε"), "write 'Greek | English'"),
    ],
)
def test_a_broken_milestone_declaration_is_refused_at_deploy(
    municipality: Session, change: Any, expected: str
) -> None:
    with pytest.raises(DeploymentError) as refused:
        deploy_definition(municipality, change(_PROCESS).encode(), "pothole_report.bpmn")
    assert expected in str(refused.value)


def test_after_a_final_outcome_nothing_is_ahead_while_the_last_steps_run() -> None:
    """The head rejected: the case still runs its automatic steps (register, notify), but the
    page must not show "the department's decision" and "issue of the document" as ahead."""
    from datetime import UTC, datetime

    from engine.requests.tracking import build_timeline
    from engine.workflow.bpmn.milestones import parse_milestones

    xml = (Path(__file__).parents[2] / "processes" / "certificate_issuance.bpmn").read_bytes()
    milestones = parse_milestones(xml, "certificate_issuance")
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    reached = [("submitted", at), ("registered", at), ("under_review", at)]
    open_review = build_timeline(milestones, reached, open_case=True)
    assert [(m.code, m.state) for m in open_review] == [
        ("submitted", "done"),
        ("registered", "done"),
        ("under_review", "current"),
        ("approved", "next"),
        ("issued", "next"),
    ]
    rejected = build_timeline(milestones, [*reached, ("rejected", at)], open_case=True)
    assert [(m.code, m.state) for m in rejected] == [
        ("submitted", "done"),
        ("registered", "done"),
        ("under_review", "done"),
        ("rejected", "done"),
    ]
