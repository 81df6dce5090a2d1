"""The org chart CSV: the demo municipality's file, re-imports, a changed file, and bad files."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.acting import acting_staff
from engine.people.admin_audit import CLI_OPERATOR, AdminEvent, verify_admin_chain
from engine.people.demo import DEMO_CSV, seed_demo_municipality
from engine.people.models import Department, Position, User
from engine.people.org_import import OrgImportRefused, import_org_chart
from engine.people.orgchart import org_tree
from engine.workflow.commands import complete_task, start_case
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask

HEADER = (
    "unit_code,parent_code,unit_kind,unit_name_el,unit_name_en,unit_email,"
    "full_name,username,email,position,title,delegated_signature,clearance"
)


def demo_text() -> str:
    return DEMO_CSV.read_text(encoding="utf-8")


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _positions(session: Session, username: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Department.code, Position.kind)
        .join(Department, Department.id == Position.unit_id)
        .join(User, User.id == Position.user_id)
        .where(User.username == username, Position.ended_at.is_(None))
    )
    return sorted((code, kind) for code, kind in rows)


def test_the_demo_seed_imports_the_shipped_csv_and_a_second_import_changes_nothing(
    db_session: Session,
) -> None:
    assert seed_demo_municipality(db_session) is True
    assert seed_demo_municipality(db_session) is False
    plan = import_org_chart(db_session, DEMO_CSV.read_bytes(), by=CLI_OPERATOR)
    assert plan.changes == []
    # The tree: municipality → general directorate → directorates → departments.
    roots = [node for node in org_tree(db_session) if node.unit.code == "DHMOS"]
    assert len(roots) == 1 and roots[0].unit.kind == "municipality"
    mayor = [(p.kind, p.title) for p, u in roots[0].positions if u.username == "dimarchos"]
    assert mayor == [("signatory", "Δήμαρχος")]
    assert _positions(db_session, "protokollo") == [("PROT", "protocol_officer")]
    assert sorted(_user(db_session, "protokollo").clearance) == ["ΕΜΠ", "ΠΔ"]
    deputy = db_session.scalars(
        select(Position).join(User, User.id == Position.user_id).where(User.username == "antidimarchos")
    ).one()
    assert deputy.delegated_signature is True
    protocol = acting_staff(db_session, _user(db_session, "protokollo"))
    assert set(protocol.roles) == {"protocol_clerk", "clerk"}
    dhm = db_session.scalars(select(Department).where(Department.code == "DHM")).one()
    assert dhm.head_user_id == _user(db_session, "proistamenos").id
    assert dhm.substitute_user_id == _user(db_session, "anaplirotis").id
    assert verify_admin_chain(db_session) == []


def test_a_changed_file_moves_one_deactivates_who_left_and_keeps_history(db_session: Session) -> None:
    seed_demo_municipality(db_session)
    events_before = db_session.scalar(select(AdminEvent.seq).order_by(AdminEvent.seq.desc()).limit(1))
    lines = demo_text().splitlines()
    # ypallilos2 left; esoda moved from revenue to the civil registry.
    changed = [line for line in lines if ",ypallilos2," not in line]
    changed = [
        line.replace(
            "OIK,OIKD,department,Τμήμα Εσόδων,Revenue Department,esoda@demo.polis.invalid,Δημήτρης",
            "DHM,DIOIK,department,Τμήμα Δημοτολογίου και Ληξιαρχείου,Civil Registry Department,"
            "dimotologio@demo.polis.invalid,Δημήτρης",
        )
        for line in changed
    ]
    data = "\n".join(changed).encode()
    preview = import_org_chart(db_session, data, by=CLI_OPERATOR, dry_run=True)
    assert preview.changes == [
        "+ position esoda: clerk in DHM",
        "- position esoda: clerk in OIK",
        "- person ypallilos2 deactivated (left the org chart)",
    ]
    assert _positions(db_session, "esoda") == [("OIK", "clerk")]  # a dry run changes nothing
    import_org_chart(db_session, data, by=CLI_OPERATOR)
    assert _positions(db_session, "esoda") == [("DHM", "clerk")]
    left = _user(db_session, "ypallilos2")
    assert left.is_active is False and _positions(db_session, "ypallilos2") == []
    ended = db_session.scalars(select(Position).where(Position.user_id == left.id)).one()
    assert ended.ended_at is not None  # history kept, not deleted
    assert import_org_chart(db_session, data, by=CLI_OPERATOR).changes == []
    actions = list(db_session.scalars(select(AdminEvent.action).where(AdminEvent.seq > (events_before or 0))))
    assert "user.deactivate" in actions and "org.import" in actions
    assert verify_admin_chain(db_session) == []


def test_windows_1253_is_detected(db_session: Session) -> None:
    plan = import_org_chart(db_session, demo_text().encode("cp1253"), by=CLI_OPERATOR)
    assert plan.chart.encoding == "windows-1253"
    assert _user(db_session, "proistamenos").full_name == "Νίκος Σταυρακάκης"


def _refused(session: Session, text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(OrgImportRefused) as refused:
        import_org_chart(session, data, by=CLI_OPERATOR)
    assert session.scalar(select(Department.id).where(Department.code == "A")) is None  # nothing applied
    return refused.value.problems


def test_every_problem_of_a_bad_file_is_listed_by_line_and_nothing_is_applied(db_session: Session) -> None:
    text = "\n".join(
        [
            HEADER,
            "A,,municipality,Α,A,,Άννα,anna,a@x.invalid,head,,,",  # line 2: fine
            "B,NOPE,department,Β,B,,Βασίλης,vasilis,v@x.invalid,clerk,,,",  # 3: missing parent
            "C,D,department,Γ,C,,Γιάννης,anna,g@x.invalid,clerk,,,",  # 4: duplicate username
            "D,C,department,Δ,D,,Δήμητρα,dimitra,d@x.invalid,chief,,,",  # 5: cycle, unknown position
        ]
    )
    problems = _refused(db_session, text)
    assert any(p.startswith("line 3:") and "'NOPE'" in p for p in problems), problems
    assert any(p.startswith("line 4:") and "duplicate username 'anna'" in p for p in problems), problems
    assert any(p.startswith("line 5:") and "unknown position 'chief'" in p for p in problems), problems
    assert any("cycle" in p and ("C → D → C" in p or "D → C → D" in p) for p in problems), problems
    assert len(problems) == 4


def test_a_file_in_neither_utf8_nor_windows_1253_is_refused_with_its_line(db_session: Session) -> None:
    data = (
        HEADER + "\n" + "A,,municipality,Α,A,,Anna,anna,a@x.invalid,head,,,\n"
    ).encode() + b"B,A,office,\xff\n"
    problems = _refused(db_session, data)
    assert problems == [
        "line 3: byte 0xFF is neither UTF-8 nor Windows-1253; save the file as CSV UTF-8 and import it again."
    ]
    assert "UTF-16" in _refused(db_session, (HEADER + "\n").encode("utf-16"))[0]


def test_the_only_head_with_open_approvals_cannot_leave_in_an_import(db_session: Session) -> None:
    deploy_directory(db_session)
    seed_demo_municipality(db_session)
    dhm = db_session.scalars(select(Department).where(Department.code == "DHM")).one()
    case = start_case(db_session, "document_approval", department_id=dhm.id)
    prepare = db_session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
    complete_task(
        db_session, prepare.task_id, {"title": "x"}, acting_staff(db_session, _user(db_session, "ypallilos"))
    )
    # Both heads of the civil registry leave (the head and the standing substitute head).
    without_head = "\n".join(
        line
        for line in demo_text().splitlines()
        if ",proistamenos," not in line and ",anaplirotis," not in line
    )
    # Both heads at once: the preview itself names the unit and the waiting case (it used to
    # pass, each head being replaced by the other, and only the apply refused).
    with pytest.raises(OrgImportRefused, match=case.number) as refused:
        import_org_chart(db_session, without_head.encode(), by=CLI_OPERATOR, dry_run=True)
    assert any("unit DHM would have no head" in p and p.startswith("line ") for p in refused.value.problems)
    with pytest.raises(OrgImportRefused, match=case.number), db_session.begin_nested():
        import_org_chart(db_session, without_head.encode(), by=CLI_OPERATOR)
    assert _user(db_session, "proistamenos").is_active
