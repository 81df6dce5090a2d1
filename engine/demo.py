"""The demo municipality that ``make run`` creates: departments and staff to sign in with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts import create_user, hash_password
from engine.org import Department, User

#: The one password of every demo account; printed by ``make run``. Never used in production.
DEMO_PASSWORD = "polis-demo"  # noqa: S105 - public on purpose, printed by make run


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and what it is for."""

    username: str
    full_name: str
    department: str
    roles: tuple[str, ...]
    description: str
    clearance: tuple[str, ...] = ()


DEPARTMENTS = (
    ("PROT", "Γραφείο Πρωτοκόλλου", "Protocol Office"),
    ("DHM", "Τμήμα Δημοτολογίου και Ληξιαρχείου", "Civil Registry Department"),
    ("OIK", "Τμήμα Εσόδων", "Revenue Department"),
    ("TEX", "Διεύθυνση Τεχνικών Υπηρεσιών", "Technical Services Directorate"),
    ("KOIN", "Τμήμα Κοινωνικής Προστασίας", "Social Services Department"),
)

ACCOUNTS = (
    DemoAccount("admin", "Διαχειριστής Συστήματος", "PROT", ("admin",), "administrator"),
    DemoAccount(
        "protokollo", "Ελένη Παπαδάκη", "PROT", ("protocol_clerk",), "protocol office clerk", ("ΕΜΠ", "ΠΔ")
    ),
    DemoAccount("ypallilos", "Γιώργος Μαρκάκης", "DHM", ("clerk",), "clerk, civil registry"),
    DemoAccount("ypallilos2", "Μαρία Βλαχάκη", "DHM", ("clerk",), "second clerk, civil registry"),
    DemoAccount("proistamenos", "Νίκος Σταυρακάκης", "DHM", ("head",), "head of civil registry", ("ΠΔ",)),
    DemoAccount("anaplirotis", "Κατερίνα Δασκαλάκη", "DHM", ("clerk",), "substitute head, civil registry"),
    DemoAccount("esoda", "Δημήτρης Κουκουράκης", "OIK", ("clerk",), "clerk, revenue"),
    DemoAccount("proistamenos.esodon", "Άννα Τζανακάκη", "OIK", ("head",), "head of revenue"),
)


def seed_demo_municipality(session: Session) -> bool:
    """Create the demo departments and accounts unless they exist; True if anything was added."""
    if session.scalar(select(Department.id).where(Department.code == "PROT")) is not None:
        return False
    departments = {}
    for code, name_el, name_en in DEPARTMENTS:
        department = Department(code=code, name_el=name_el, name_en=name_en)
        session.add(department)
        departments[code] = department
    session.flush()
    users: dict[str, User] = {}
    # One hash for the one public demo password: argon2 is slow on purpose.
    shared_hash = hash_password(DEMO_PASSWORD)
    for account in ACCOUNTS:
        users[account.username] = create_user(
            session,
            username=account.username,
            full_name=account.full_name,
            password=None,
            password_hash=shared_hash,
            department=departments[account.department],
            roles=list(account.roles),
            email=f"{account.username}@demo.polis.invalid",
            clearance=list(account.clearance),
        )
    departments["DHM"].head_user_id = users["proistamenos"].id
    departments["DHM"].substitute_user_id = users["anaplirotis"].id
    departments["OIK"].head_user_id = users["proistamenos.esodon"].id
    session.flush()
    return True
