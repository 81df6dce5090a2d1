"""Import the org chart from a CSV file as a municipality's HR system exports it.

One row per position a person holds (a person with two positions has two rows); a row without
a username only describes a unit. Columns, by header name (order free, ``,`` or ``;``):

    unit_code, parent_code, unit_name_el, unit_name_en, full_name, username, email, position
    optional: unit_kind, unit_email, title, delegated_signature (yes/no), clearance (ΕΜΠ;ΠΔ)

The file is the whole org chart. Importing it plans the changes first; any problem (each with
its line number: missing parent, cycle, duplicate username, unknown position, wrong encoding…)
means nothing is applied. Applying is idempotent: the same file again changes nothing; a
changed file updates units and people, adds and ends positions, and deactivates the units and
people that left (never deletes: history keeps them). People who hold an administrator
position and are not in the file are kept, so an import cannot lock the operators out.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from engine.people.admin_audit import AdminActor, record_admin_event
from engine.people.models import POSITION_KINDS, UNIT_KINDS, Department, Position, User
from engine.people.orgchart import (
    assign_position,
    create_staff,
    deactivate_staff,
    deactivate_unit,
    end_position,
    save_unit,
    update_staff,
    waiting_head_tasks,
)

REQUIRED = (
    "unit_code",
    "parent_code",
    "unit_name_el",
    "unit_name_en",
    "full_name",
    "username",
    "email",
    "position",
)
OPTIONAL = ("unit_kind", "unit_email", "title", "delegated_signature", "clearance")
_YES = ("yes", "y", "true", "1", "ναι", "ν")


class OrgImportRefused(InvalidInput):
    """The file has problems; nothing was applied. ``problems`` lists them by line."""

    code = "org_import_refused"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("The org chart was not imported:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@dataclass
class UnitRow:
    """A unit as the file describes it."""

    line: int
    code: str
    parent_code: str
    name_el: str
    name_en: str
    kind: str
    email: str | None


@dataclass
class PersonRow:
    """A person as the file describes them, with every position they hold."""

    line: int
    username: str
    full_name: str
    email: str | None
    clearance: list[str]
    positions: list[tuple[int, str, str, str | None, bool]] = field(default_factory=list)
    # (line, unit code, kind, title, delegated_signature)


@dataclass
class OrgChart:
    """A parsed, checked file."""

    units: dict[str, UnitRow]
    people: dict[str, PersonRow]
    encoding: str
    sha256: str


@dataclass
class ImportPlan:
    """What an import would change (``changes`` empty: the database already matches)."""

    chart: OrgChart
    changes: list[str]


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (with or without BOM) or Windows-1253."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise OrgImportRefused(
            [f"line {line}: the file is not text in UTF-8 or Windows-1253 (UTF-16?); save it as CSV UTF-8."]
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("cp1253")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise OrgImportRefused(
                [
                    f"line {line}: byte 0x{data[exc.start]:02X} is neither UTF-8 nor Windows-1253; "
                    "save the file as CSV UTF-8 and import it again."
                ]
            ) from None
        if not any("\u0370" <= ch <= "\u03ff" for ch in text):
            line = data[: utf8_error.start].count(b"\n") + 1
            raise OrgImportRefused(
                [
                    f"line {line}: the file is not UTF-8 and has no Greek letters in Windows-1253 "
                    "either; save it as CSV UTF-8 and import it again."
                ]
            ) from None
        return text, "windows-1253"


def parse_org_csv(data: bytes) -> OrgChart:
    """Read and check the file; OrgImportRefused lists every problem by line number."""
    text, encoding = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise OrgImportRefused(
            [f"line 1: missing column(s) {', '.join(missing)}; the columns are {', '.join(REQUIRED)}."]
        )
    reader.fieldnames = header
    problems: list[str] = []
    units: dict[str, UnitRow] = {}
    people: dict[str, PersonRow] = {}
    for row in reader:
        line = reader.line_num
        cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cell.values()):
            continue
        _read_unit(cell, line, units, problems)
        if cell.get("username"):
            _read_person(cell, line, people, problems)
    _check_tree(units, problems)
    for person in people.values():
        for line, unit_code, _kind, _title, _deleg in person.positions:
            if unit_code and unit_code not in units:
                problems.append(f"line {line}: unit {unit_code!r} is not described in the file.")
    if problems:
        raise OrgImportRefused(problems)
    return OrgChart(units, people, encoding, hashlib.sha256(data).hexdigest())


def _read_unit(cell: dict[str, str], line: int, units: dict[str, UnitRow], problems: list[str]) -> None:
    code = cell.get("unit_code", "")
    if not code:
        problems.append(f"line {line}: unit_code is empty.")
        return
    kind = cell.get("unit_kind") or "department"
    if kind not in UNIT_KINDS:
        problems.append(f"line {line}: unknown unit kind {kind!r}; use one of {', '.join(UNIT_KINDS)}.")
    unit = UnitRow(
        line,
        code,
        cell.get("parent_code", ""),
        cell.get("unit_name_el", ""),
        cell.get("unit_name_en", ""),
        kind,
        cell.get("unit_email") or None,
    )
    if not unit.name_el or not unit.name_en:
        problems.append(f"line {line}: unit {code} needs both unit_name_el and unit_name_en.")
    known = units.get(code)
    if known is None:
        units[code] = unit
    elif (known.parent_code, known.name_el, known.name_en, known.kind, known.email) != (
        unit.parent_code,
        unit.name_el,
        unit.name_en,
        unit.kind,
        unit.email,
    ):
        problems.append(f"line {line}: unit {code} is described differently on line {known.line}.")


def _read_person(cell: dict[str, str], line: int, people: dict[str, PersonRow], problems: list[str]) -> None:
    username = cell["username"].lower()
    if not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        problems.append(f"line {line}: username {username!r}: use letters, digits, '.', '_' or '-'.")
    kind = cell.get("position", "")
    if kind not in POSITION_KINDS:
        problems.append(f"line {line}: unknown position {kind!r}; use one of {', '.join(POSITION_KINDS)}.")
    if not cell.get("full_name"):
        problems.append(f"line {line}: full_name is empty for {username}.")
    clearance = [c for c in cell.get("clearance", "").replace(",", ";").split(";") if c.strip()]
    position = (
        line,
        cell.get("unit_code", ""),
        kind,
        cell.get("title") or None,
        cell.get("delegated_signature", "").lower() in _YES,
    )
    known = people.get(username)
    if known is None:
        people[username] = PersonRow(
            line,
            username,
            cell.get("full_name", ""),
            cell.get("email") or None,
            [c.strip() for c in clearance],
        )
        people[username].positions.append(position)
        return
    if (known.full_name, known.email) != (cell.get("full_name", ""), cell.get("email") or None):
        problems.append(
            f"line {line}: duplicate username {username!r} (line {known.line} names "
            f"{known.full_name}); one username per person."
        )
    elif any((p[1], p[2]) == (position[1], position[2]) for p in known.positions):
        problems.append(
            f"line {line}: {username} holds {kind} in {position[1]} already on line {known.line}."
        )
    else:
        known.positions.append(position)


def _check_tree(units: dict[str, UnitRow], problems: list[str]) -> None:
    for unit in units.values():
        if unit.parent_code and unit.parent_code not in units:
            problems.append(
                f"line {unit.line}: parent {unit.parent_code!r} of unit {unit.code} is not in the file."
            )
    reported: set[str] = set()
    for unit in units.values():
        seen: list[str] = []
        node: UnitRow | None = unit
        while node is not None and node.parent_code:
            if node.code in seen:
                cycle = seen[seen.index(node.code) :]
                if not reported.intersection(cycle):
                    lines = ", ".join(str(units[c].line) for c in cycle)
                    loop = " → ".join([*cycle, cycle[0]])
                    problems.append(
                        f"line {units[cycle[0]].line}: the units {loop} form a cycle "
                        f"(lines {lines}); one of them needs another parent."
                    )
                    reported.update(cycle)
                break
            seen.append(node.code)
            node = units.get(node.parent_code)


def plan_import(session: Session, chart: OrgChart) -> ImportPlan:
    """Compare the file with the database: the list of changes an import would make."""
    changes: list[str] = []
    problems: list[str] = []
    existing_units = {u.code: u for u in session.scalars(select(Department))}
    for code, unit in chart.units.items():
        old = existing_units.get(code)
        if old is None:
            changes.append(f"+ unit {code} ({unit.kind}) {unit.name_el} under {unit.parent_code or '—'}")
            continue
        parent_code = _code_of(existing_units, old.parent_id)
        diffs = [
            f"{name}: {a!r} → {b!r}"
            for name, a, b in (
                ("name_el", old.name_el, unit.name_el),
                ("name_en", old.name_en, unit.name_en),
                ("kind", old.kind, unit.kind),
                ("email", old.email, unit.email),
                ("parent", parent_code, unit.parent_code or None),
                ("active", old.is_active, True),
            )
            if a != b
        ]
        if diffs:
            changes.append(f"~ unit {code}: {'; '.join(diffs)}")
    for code, old in existing_units.items():
        if code not in chart.units and old.is_active:
            changes.append(f"- unit {code} deactivated (not in the file)")
    users = {u.username: u for u in session.scalars(select(User))}
    held = _current_positions(session, existing_units)
    heads_leaving: set[str] = set()  # units losing a head, checked once all of them are known
    for username, person in chart.people.items():
        user = users.get(username)
        if user is None:
            changes.append(f"+ person {username} ({person.full_name})")
        else:
            diffs = [
                f"{name}: {a!r} → {b!r}"
                for name, a, b in (
                    ("full_name", user.full_name, person.full_name),
                    ("email", user.email, person.email),
                    ("active", user.is_active, True),
                    ("clearance", sorted(user.clearance), sorted(person.clearance)),
                )
                if a != b
            ]
            if diffs:
                changes.append(f"~ person {username}: {'; '.join(diffs)}")
        wanted = {(unit_code, kind) for _line, unit_code, kind, _t, _d in person.positions}
        now = held.get(username, {})
        for unit_code, kind in sorted(wanted - set(now)):
            changes.append(f"+ position {username}: {kind} in {unit_code}")
        for unit_code, kind in sorted(set(now) - wanted):
            changes.append(f"- position {username}: {kind} in {unit_code}")
            if kind == "head":
                heads_leaving.add(unit_code)
    for username, user in users.items():
        if username in chart.people or not user.is_active:
            continue
        positions = held.get(username, {})
        if not positions or any(kind == "admin" for _unit, kind in positions):
            continue  # not in the chart (no position) or an administrator: left alone
        changes.append(f"- person {username} deactivated (left the org chart)")
        heads_leaving.update(unit_code for unit_code, kind in positions if kind == "head")
    for unit_code in sorted(heads_leaving):
        _replacement_problem(session, existing_units[unit_code], chart, problems)
    if problems:
        raise OrgImportRefused(problems)
    return ImportPlan(chart, changes)


def _replacement_problem(session: Session, unit: Department, chart: OrgChart, problems: list[str]) -> None:
    """A unit whose heads all leave while approvals wait needs a head in the same file.

    Judged per unit on the file as a whole, so two heads leaving together (each of whom
    would be replaced by the other, person by person) are caught in the preview too.
    """
    if any(
        (unit_code, kind) == (unit.code, "head")
        for person in chart.people.values()
        for _line, unit_code, kind, _title, _delegated in person.positions
    ):
        return
    waiting = waiting_head_tasks(session, unit)
    if waiting:
        row = chart.units.get(unit.code)
        where = f"line {row.line}" if row else "unit not in the file"
        listed = "; ".join(f"{number} {title}" for number, title in waiting[:10])
        more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
        problems.append(
            f"{where}: unit {unit.code} would have no head while {len(waiting)} approval task(s) wait "
            f"there: {listed}{more}; give the unit a head in the file."
        )


def _code_of(units: dict[str, Department], unit_id: object) -> str | None:
    return next((code for code, unit in units.items() if unit.id == unit_id), None)


def _current_positions(
    session: Session, units: dict[str, Department]
) -> dict[str, dict[tuple[str, str], Position]]:
    codes = {unit.id: code for code, unit in units.items()}
    result: dict[str, dict[tuple[str, str], Position]] = {}
    rows = session.execute(
        select(User.username, Position)
        .join(User, User.id == Position.user_id)
        .where(Position.ended_at.is_(None))
    )
    for username, position in rows:
        result.setdefault(username, {})[(codes[position.unit_id], position.kind)] = position
    return result


def apply_import(
    session: Session,
    plan: ImportPlan,
    *,
    by: AdminActor,
    new_password_hash: str | None = None,
    additive: bool = False,
) -> None:
    """Make the database match the planned file (audited); new people get ``new_password_hash``.

    Without a password hash new people cannot sign in until an administrator sets a password
    (``polis users set-password``) or sends them a reset link. ``additive`` (the demo seed)
    only adds the units and people that are missing and changes nothing that exists.
    """
    chart = plan.chart
    if not plan.changes:
        return
    units: dict[str, Department] = {u.code: u for u in session.scalars(select(Department))}
    for code in _parents_first(chart.units):
        row = chart.units[code]
        if additive and code in units:
            continue
        units[code] = save_unit(
            session,
            code=code,
            name_el=row.name_el,
            name_en=row.name_en,
            kind=row.kind,
            parent=units[row.parent_code] if row.parent_code else None,
            email=row.email,
            by=by,
        )
    users = {u.username: u for u in session.scalars(select(User))}
    held = _current_positions(session, units)
    # New heads first, so a head who leaves is already replaced when their position ends.
    for username, person in chart.people.items():
        user = users.get(username)
        if user is None:
            user = create_staff(
                session,
                username=username,
                full_name=person.full_name,
                email=person.email,
                password=None,
                password_hash=new_password_hash,
                by=by,
            )
            users[username] = user
        elif additive:
            continue
        else:
            update_staff(session, user, full_name=person.full_name, email=person.email, by=by)
        if sorted(user.clearance) != sorted(person.clearance):
            user.clearance = list(person.clearance)
        for _line, unit_code, kind, title, delegated in person.positions:
            assign_position(
                session, user, units[unit_code], kind, by=by, title=title, delegated_signature=delegated
            )
    if additive:
        record_admin_event(session, by, "org.import", {"sha256": chart.sha256, "additive": True})
        return
    for username, person in chart.people.items():
        wanted = {(unit_code, kind) for _line, unit_code, kind, _t, _d in person.positions}
        for key, position in held.get(username, {}).items():
            if key not in wanted:
                end_position(session, position, by=by)
    for username, user in users.items():
        positions = held.get(username, {})
        if username in chart.people or not user.is_active or not positions:
            continue
        if any(kind == "admin" for _unit, kind in positions):
            continue
        deactivate_staff(session, user, by=by)
    for code, unit in units.items():
        if code not in chart.units:
            deactivate_unit(session, unit, by=by)
    record_admin_event(
        session,
        by,
        "org.import",
        {"sha256": chart.sha256, "encoding": chart.encoding, "changes": plan.changes},
    )


def _parents_first(units: dict[str, UnitRow]) -> list[str]:
    ordered: list[str] = []

    def visit(code: str) -> None:
        if code in ordered:
            return
        parent = units[code].parent_code
        if parent:
            visit(parent)
        ordered.append(code)

    for code in sorted(units):
        visit(code)
    return ordered


def import_org_chart(
    session: Session,
    data: bytes,
    *,
    by: AdminActor,
    dry_run: bool = False,
    new_password_hash: str | None = None,
) -> ImportPlan:
    """Parse, plan and (unless ``dry_run``) apply an org chart file; the plan says what changed."""
    plan = plan_import(session, parse_org_csv(data))
    if not dry_run:
        apply_import(session, plan, by=by, new_password_hash=new_password_hash)
    return plan
