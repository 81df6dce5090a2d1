"""The demo municipality that ``make run`` creates, from the org chart CSV shipped beside this
module (engine/people/demo_municipality.csv) — the same import a municipality runs in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.accounts import hash_password
from engine.people.admin_audit import AdminActor
from engine.people.models import Department, User
from engine.people.org_import import apply_import, parse_org_csv, plan_import

#: The one password of every demo account; printed by ``make run``. Never used in production.
DEMO_PASSWORD = "polis-demo"  # noqa: S105 - public on purpose, printed by make run
DEMO_CSV = Path(__file__).with_name("demo_municipality.csv")
DEMO_SEEDER = AdminActor(None, "demo seed")

#: Standing substitutes (escalations after a head's SLA go there): not part of an HR export.
STANDING_SUBSTITUTES = {"DHM": "anaplirotis"}

_DESCRIPTIONS = {
    "admin": "administrator",
    "protocol_officer": "protocol office clerk; answers general requests",
    "head": "head",
    "clerk": "clerk",
    "signatory": "signatory",
}


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and what it is for."""

    username: str
    full_name: str
    department: str
    description: str


def _accounts() -> tuple[DemoAccount, ...]:
    chart = parse_org_csv(DEMO_CSV.read_bytes())
    accounts = []
    for person in chart.people.values():
        _line, unit, kind, title, _delegated = person.positions[0]
        what = title or _DESCRIPTIONS[kind]
        if person.username in STANDING_SUBSTITUTES.values():
            what += ", standing substitute of the head"
        accounts.append(DemoAccount(person.username, person.full_name, unit, f"{what}, {unit}"))
    return tuple(accounts)


ACCOUNTS = _accounts()


def seed_demo_municipality(session: Session) -> bool:
    """Add the demo units and accounts that are missing; True if anything was added.

    Idempotent and additive: a second run changes nothing; a demo database made by an older
    Polis gains the units and accounts added since, and nothing existing is changed (a demo
    user renamed by hand stays renamed). New accounts get the demo password.
    """
    plan = plan_import(session, parse_org_csv(DEMO_CSV.read_bytes()))
    additions = [change for change in plan.changes if change.startswith(("+ unit", "+ person"))]
    # One hash for the one public demo password, and only when someone is new: argon2 is slow.
    newcomers = any(change.startswith("+ person") for change in additions)
    if additions:
        apply_import(
            session,
            plan,
            by=DEMO_SEEDER,
            new_password_hash=hash_password(DEMO_PASSWORD) if newcomers else None,
            additive=True,
        )
    changed = bool(additions)
    for code, username in STANDING_SUBSTITUTES.items():
        unit = session.scalar(select(Department).where(Department.code == code))
        substitute = session.scalar(select(User.id).where(User.username == username))
        if unit is not None and unit.substitute_user_id is None and substitute is not None:
            unit.substitute_user_id = substitute
            changed = True
    session.flush()
    return changed
