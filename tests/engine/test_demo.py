"""The demo municipality of `make run`: every catalogue service can be worked end to end."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.people.demo import ACCOUNTS, seed_demo_municipality
from engine.people.models import Department, Position, User
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


def test_seeding_again_changes_nothing_and_fills_in_what_an_older_demo_lacks(db_session: Session) -> None:
    seed_demo_municipality(db_session)
    assert seed_demo_municipality(db_session) is False
    # An older demo database: an account removed and a head unset.
    missing = db_session.scalars(select(User).where(User.username == "koinoniki")).one()
    db_session.execute(delete(Position).where(Position.user_id == missing.id))
    db_session.delete(missing)
    koin = db_session.scalars(select(Department).where(Department.code == "KOIN")).one()
    koin.head_user_id = None
    dhm = db_session.scalars(select(Department).where(Department.code == "DHM")).one()
    kept_head = dhm.head_user_id
    db_session.flush()
    assert seed_demo_municipality(db_session) is True
    usernames = set(db_session.scalars(select(User.username)))
    assert usernames == {a.username for a in ACCOUNTS}
    assert koin.head_user_id is not None and dhm.head_user_id == kept_head
