"""Document-flow fixtures: a protocol office and three units with heads and clerks, processes deployed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from engine.documents.registration import IncomingFile, IncomingForm
from engine.people.models import Department, User
from engine.workflow.definitions import deploy_directory


def _letter_pdf() -> bytes:
    """A one-page PDF letter with a few lines of text (offsets computed, so any reader opens it)."""
    text = (
        b"BT /F1 16 Tf 72 760 Td (REGION OF CRETE) Tj 0 -28 Td /F1 12 Tf (Ref. 4521/2026, 01/12/2026) Tj"
        b" 0 -40 Td (To: Municipality - Protocol Office) Tj"
        b" 0 -40 Td (Invitation to a meeting on flood protection.) Tj"
        b" 0 -20 Td (Please send two representatives.) Tj ET"
    )
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(text) + text + b"\nendstream\n",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj" % number + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


#: A scanned letter, as small as a real PDF can be.
SCANNED_LETTER = _letter_pdf()


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
