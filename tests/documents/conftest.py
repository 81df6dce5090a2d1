"""Document-flow fixtures: a protocol office and three units with heads and clerks, processes deployed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from engine.documents.registration import IncomingFile, IncomingForm
from engine.people.models import Department, User
from engine.workflow.definitions import deploy_directory

#: The first bytes of a scanned letter: a tiny but well-formed PDF.
SCANNED_LETTER = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class Unit:
    """A unit with its head and clerk."""

    department: Department
    head: User
    clerk: User


@dataclass
class Town:
    """The protocol office, units A, B, C (each with head and clerk) and an unrelated unit X."""

    protocol: Department
    registrar: User
    a: Unit
    b: Unit
    c: Unit
    x: Unit
    people: dict[str, User] = field(default_factory=dict)


def make_town(session: Session) -> Town:
    """Create the units and staff (flushed, not committed)."""
    tag = uuid.uuid4().hex[:6]

    def unit(code: str, name: str) -> Department:
        department = Department(code=f"{code}{tag}", name_el=name, name_en=name)
        session.add(department)
        session.flush()
        return department

    def user(name: str, roles: list[str], department: Department) -> User:
        person = User(
            username=f"{name}-{tag}", full_name=name.title(), department_id=department.id, roles=roles
        )
        session.add(person)
        session.flush()
        return person

    protocol = unit("P", "Γραφείο Πρωτοκόλλου")
    registrar = user("registrar", ["protocol_clerk"], protocol)
    units = {}
    for code, name in (
        ("A", "Τεχνική Υπηρεσία"),
        ("B", "Οικονομική Υπηρεσία"),
        ("C", "Κοινωνική Υπηρεσία"),
        ("X", "Ληξιαρχείο"),
    ):
        department = unit(code, name)
        head = user(f"head {code.lower()}", ["head"], department)
        clerk = user(f"clerk {code.lower()}", ["clerk"], department)
        department.head_user_id = head.id
        units[code] = Unit(department, head, clerk)
    session.flush()
    return Town(protocol, registrar, units["A"], units["B"], units["C"], units["X"])


@pytest.fixture
def town(db_session: Session) -> Town:
    """The town inside the rolled-back test transaction, processes deployed."""
    deploy_directory(db_session)
    return make_town(db_session)


def letter(**changes: object) -> IncomingForm:
    """A scanned letter from the Region, as the protocol office types it."""
    values: dict[str, object] = {
        "subject": "Πρόσκληση σε σύσκεψη για την αντιπλημμυρική προστασία",
        "document_type": "letter",
        "sender": "Περιφέρεια Κρήτης",
        "sender_reference": "1234/2026",
        "sender_date": None,
        "delivery_method": "post",
        "files": (IncomingFile("scan.pdf", SCANNED_LETTER, "application/pdf"),),
    }
    values.update(changes)
    if values["sender_reference"] and values["sender_date"] is None:
        from datetime import date

        values["sender_date"] = date(2026, 12, 1)
    return IncomingForm(**values)  # type: ignore[arg-type]
