"""The demo municipality that ``make run`` creates: departments and staff to sign in with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.accounts import create_user, hash_password
from engine.people.models import Department, User

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
        "protokollo",
        "Ελένη Παπαδάκη",
        "PROT",
        ("protocol_clerk", "clerk"),
        "protocol office clerk; answers general requests",
        ("ΕΜΠ", "ΠΔ"),
    ),
    DemoAccount(
        "proistamenos.protokollou", "Σταύρος Λιονάκης", "PROT", ("head",), "head of the protocol office"
    ),
    DemoAccount("ypallilos", "Γιώργος Μαρκάκης", "DHM", ("clerk",), "clerk, civil registry"),
    DemoAccount("ypallilos2", "Μαρία Βλαχάκη", "DHM", ("clerk",), "second clerk, civil registry"),
    DemoAccount("proistamenos", "Νίκος Σταυρακάκης", "DHM", ("head",), "head of civil registry", ("ΠΔ",)),
    # A substitute head holds the head role too: approvals escalated to a substitute without
    # it are not assigned (four eyes, engine/runtime._lane_assignee).
    DemoAccount(
        "anaplirotis", "Κατερίνα Δασκαλάκη", "DHM", ("clerk", "head"), "substitute head, civil registry"
    ),
    DemoAccount("esoda", "Δημήτρης Κουκουράκης", "OIK", ("clerk",), "clerk, revenue"),
    DemoAccount("proistamenos.esodon", "Άννα Τζανακάκη", "OIK", ("head",), "head of revenue"),
    DemoAccount("texniki", "Μανώλης Φραγκιαδάκης", "TEX", ("clerk",), "clerk, technical services"),
    DemoAccount("proistamenos.texnikis", "Ιωάννα Μαυράκη", "TEX", ("head",), "head of technical services"),
    DemoAccount("koinoniki", "Ειρήνη Χατζάκη", "KOIN", ("clerk",), "clerk, social services"),
    DemoAccount("proistamenos.koinonikis", "Πέτρος Ξυλούρης", "KOIN", ("head",), "head of social services"),
)

#: Who heads each demo department and who stands in for the head (escalations go there).
HEADS = {
    "PROT": ("proistamenos.protokollou", None),
    "DHM": ("proistamenos", "anaplirotis"),
    "OIK": ("proistamenos.esodon", None),
    "TEX": ("proistamenos.texnikis", None),
    "KOIN": ("proistamenos.koinonikis", None),
}


def seed_demo_municipality(session: Session) -> bool:
    """Add the demo departments and accounts that are missing; True if anything was added.

    Idempotent and additive: a demo database made by an older Polis gains the accounts added
    since (so every catalogue service has a clerk and a head), and nothing existing is changed.
    """
    added = False
    departments = {d.code: d for d in session.scalars(select(Department))}
    for code, name_el, name_en in DEPARTMENTS:
        if code not in departments:
            departments[code] = Department(code=code, name_el=name_el, name_en=name_en)
            session.add(departments[code])
            added = True
    session.flush()
    users = {u.username: u for u in session.scalars(select(User))}
    shared_hash: str | None = None
    for account in ACCOUNTS:
        if account.username in users:
            continue
        # One hash for the one public demo password: argon2 is slow on purpose.
        shared_hash = shared_hash or hash_password(DEMO_PASSWORD)
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
        added = True
    for code, (head, substitute) in HEADS.items():
        department = departments[code]
        if department.head_user_id is None:
            department.head_user_id = users[head].id
        if substitute and department.substitute_user_id is None:
            department.substitute_user_id = users[substitute].id
    session.flush()
    return added
