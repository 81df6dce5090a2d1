"""The demo municipality of `make run`: every catalogue service can be worked end to end."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.demo import ACCOUNTS, seed_demo_municipality
from engine.people.models import Department, User
from forms.catalogue import list_services


def test_every_service_department_has_a_clerk_and_a_head(db_session: Session) -> None:
    assert seed_demo_municipality(db_session) is True
    departments = {d.code: d for d in db_session.scalars(select(Department))}
    users = list(db_session.scalars(select(User)))
    for service in list_services():
        department = departments[service.department]
        members = [u for u in users if u.department_id == department.id]
        assert any("clerk" in u.roles for u in members), f"{service.code}: no clerk in {department.code}"
        assert department.head_user_id is not None, f"{service.code}: {department.code} has no head"
    assert {u.username for u in users} >= {a.username for a in ACCOUNTS}


def test_seeding_again_changes_nothing_it_finds(db_session: Session) -> None:
    assert seed_demo_municipality(db_session) is True
    admin = db_session.scalars(select(User).where(User.username == "admin")).one()
    admin.full_name = "Renamed by hand"
    db_session.flush()
    assert seed_demo_municipality(db_session) is False
    assert admin.full_name == "Renamed by hand"
