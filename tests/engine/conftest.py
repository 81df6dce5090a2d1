"""Engine test fixtures: a small municipality department and deployed processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.people.models import Department, User
from engine.workflow.definitions import deploy_directory


@dataclass
class Org:
    """One department with a head, a substitute and two clerks, plus a second department."""

    department: Department
    other: Department
    head: User
    substitute: User
    clerk: User
    clerk2: User
    outsider: User


def make_org(session: Session) -> Org:
    """Create the departments and users (flushed, not committed)."""
    tag = uuid.uuid4().hex[:8]
    department = Department(code=f"D{tag}", name_el="Τμήμα Πρωτοκόλλου", name_en="Registry")
    other = Department(code=f"O{tag}", name_el="Τμήμα Μισθοδοσίας", name_en="Payroll")
    session.add_all([department, other])
    session.flush()

    def user(name: str, roles: list[str], dept: Department) -> User:
        u = User(
            username=f"{name}-{tag}",
            full_name=name.title(),
            department_id=dept.id,
            roles=roles,
        )
        session.add(u)
        return u

    head = user("head", ["head"], department)
    substitute = user("substitute", ["head", "clerk"], department)
    clerk = user("clerk", ["clerk"], department)
    clerk2 = user("clerk two", ["clerk"], department)
    outsider = user("outsider", ["clerk"], other)
    session.flush()
    department.head_user_id = head.id
    department.substitute_user_id = substitute.id
    session.flush()
    return Org(department, other, head, substitute, clerk, clerk2, outsider)


@pytest.fixture
def org(db_session: Session) -> Org:
    """The organisation inside the rolled-back test transaction, processes deployed."""
    deploy_directory(db_session)
    return make_org(db_session)


@pytest.fixture
def committed_engine(fresh_db_url: str) -> Iterator[Engine]:
    """An engine on a brand-new database, for tests that commit from several threads."""
    engine = create_engine(fresh_db_url, pool_size=20, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def committed_org(committed_engine: Engine) -> Org:
    """The organisation committed in the fresh database, processes deployed."""
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_directory(session)
        return make_org(session)
