"""``polis org|users|substitutions|documents``: running the organisation without SQL.

Every change is written to the admin audit chain as the operator at this shell
(``polis audit verify`` checks it).
"""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import date
from pathlib import Path

import click

from cli.context import unit_of_work
from engine.people.admin_audit import AdminActor
from engine.people.models import POSITION_KINDS, UNIT_KINDS


def operator() -> AdminActor:
    """Who acts at this shell, as the admin log names them."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        login = "unknown"
    return AdminActor(None, f"{login}@{socket.gethostname()} (polis command)")


@click.group()
def org() -> None:
    """The org chart: import it from a CSV file, show it as a tree."""


@org.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
@click.pass_context
def import_(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Import the org chart from FILE.csv (UTF-8 or Windows-1253); every problem is listed by line."""
    from engine.people.org_import import import_org_chart

    with unit_of_work(ctx) as session:
        plan = import_org_chart(session, file.read_bytes(), by=operator(), dry_run=dry_run)
    if plan.chart.encoding != "utf-8":
        click.echo(f"Read as {plan.chart.encoding}.")
    for change in plan.changes:
        click.echo(change)
    if not plan.changes:
        click.echo("Nothing to change: the database already matches the file.")
    elif dry_run:
        click.echo(f"{len(plan.changes)} change(s) would be made; run without --dry-run to apply them.")
    else:
        click.echo(f"{len(plan.changes)} change(s) applied.")
        if any(change.startswith("+ person") for change in plan.changes):
            click.echo("New people have no password yet: `polis users set-password USERNAME`.")


@org.command("show")
@click.option("--all", "include_inactive", is_flag=True, help="Also deactivated units.")
@click.pass_context
def show(ctx: click.Context, include_inactive: bool) -> None:
    """The units as a tree, with who holds which position."""
    from engine.people.orgchart import UnitNode, org_tree

    def echo(node: UnitNode, depth: int) -> None:
        unit = node.unit
        inactive = "" if unit.is_active else " [inactive]"
        click.echo(f"{'  ' * depth}{unit.code}  {unit.name_el} ({unit.kind}){inactive}")
        for position, user in node.positions:
            title = f" — {position.title}" if position.title else ""
            click.echo(f"{'  ' * depth}    · {position.kind}: {user.full_name} ({user.username}){title}")
        for child in sorted(node.children, key=lambda n: n.unit.code):
            echo(child, depth + 1)

    with unit_of_work(ctx) as session:
        roots = org_tree(session, include_inactive=include_inactive)
        if not roots:
            click.echo("No units yet: `polis org import FILE.csv`.")
        for root in roots:
            echo(root, 0)


@org.command("unit")
@click.argument("code")
@click.option("--name-el", required=True)
@click.option("--name-en", required=True)
@click.option("--kind", type=click.Choice(UNIT_KINDS), default="department", show_default=True)
@click.option("--parent", "parent_code", help="The parent unit's code.")
@click.option("--email")
@click.pass_context
def unit(
    ctx: click.Context,
    code: str,
    name_el: str,
    name_en: str,
    kind: str,
    parent_code: str | None,
    email: str | None,
) -> None:
    """Create the unit CODE or update it (names, kind, parent, email)."""
    from engine.people.orgchart import get_unit, save_unit

    with unit_of_work(ctx) as session:
        parent = get_unit(session, parent_code) if parent_code else None
        save_unit(
            session,
            code=code,
            name_el=name_el,
            name_en=name_en,
            kind=kind,
            parent=parent,
            email=email,
            by=operator(),
        )
    click.echo(f"Unit {code} saved.")


@click.group()
def users() -> None:
    """Staff accounts: create, deactivate (never delete), passwords, positions, list."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name, e.g. 'Ελένη Παπαδάκη'.")
@click.option("--email")
@click.option("--unit", "unit_code", help="Give a position in this unit (with --position).")
@click.option("--position", "kind", type=click.Choice(POSITION_KINDS), help="The position in --unit.")
@click.option("--title", help="A signatory's title, e.g. Δήμαρχος.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@click.option("--no-password", is_flag=True, help="Create without a password (set it later).")
@click.pass_context
def create_user_command(
    ctx: click.Context,
    username: str,
    full_name: str,
    email: str | None,
    unit_code: str | None,
    kind: str | None,
    title: str | None,
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Create the account USERNAME (asks for the password twice)."""
    from engine.people.orgchart import assign_position, create_staff, get_unit

    if bool(unit_code) != bool(kind):
        raise click.UsageError("Give --unit and --position together (or neither).")
    password = None if no_password else _read_password(password_stdin)
    with unit_of_work(ctx) as session:
        user = create_staff(
            session, username=username, full_name=full_name, email=email, password=password, by=operator()
        )
        if unit_code and kind:
            assign_position(session, user, get_unit(session, unit_code), kind, by=operator(), title=title)
    click.echo(f"User {user.username} created." + (f" Position: {kind} in {unit_code}." if kind else ""))


@users.command("deactivate")
@click.argument("username")
@click.pass_context
def deactivate(ctx: click.Context, username: str) -> None:
    """Deactivate USERNAME: they can no longer sign in and their positions end (history is kept)."""
    from engine.people.orgchart import deactivate_staff, find_user_by_username

    with unit_of_work(ctx) as session:
        deactivate_staff(session, find_user_by_username(session, username), by=operator())
    click.echo(f"User {username} deactivated.")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@click.pass_context
def set_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (asks twice)."""
    from engine.people.orgchart import find_user_by_username, set_staff_password

    password = _read_password(password_stdin)
    with unit_of_work(ctx) as session:
        set_staff_password(session, find_user_by_username(session, username), password, by=operator())
    click.echo(f"Password of {username} set.")


@users.command("position")
@click.argument("action", type=click.Choice(["add", "end"]))
@click.argument("username")
@click.argument("unit_code")
@click.argument("kind", type=click.Choice(POSITION_KINDS))
@click.option("--title", help="A signatory's title, e.g. Αντιδήμαρχος.")
@click.option("--delegated", is_flag=True, help="Signs by delegation (εξουσιοδότηση υπογραφής).")
@click.pass_context
def position(
    ctx: click.Context,
    action: str,
    username: str,
    unit_code: str,
    kind: str,
    title: str | None,
    delegated: bool,
) -> None:
    """Add or end USERNAME's position KIND in UNIT_CODE."""
    from sqlalchemy import select

    from core.errors import NotFound
    from engine.people.models import Position
    from engine.people.orgchart import assign_position, end_position, find_user_by_username, get_unit

    with unit_of_work(ctx) as session:
        user = find_user_by_username(session, username)
        target = get_unit(session, unit_code)
        if action == "add":
            assign_position(
                session, user, target, kind, by=operator(), title=title, delegated_signature=delegated
            )
        else:
            held = session.scalar(
                select(Position).where(
                    Position.user_id == user.id,
                    Position.unit_id == target.id,
                    Position.kind == kind,
                    Position.ended_at.is_(None),
                )
            )
            if held is None:
                raise NotFound(f"{username} holds no {kind} position in {unit_code}.")
            end_position(session, held, by=operator())
    click.echo(f"Position {kind} in {unit_code} of {username}: {'added' if action == 'add' else 'ended'}.")


@users.command("list")
@click.option("--active", "active_only", is_flag=True, help="Only active accounts.")
@click.pass_context
def list_users(ctx: click.Context, active_only: bool) -> None:
    """Accounts with their positions."""
    from engine.people.orgchart import list_staff

    with unit_of_work(ctx) as session:
        for user, held in list_staff(session, include_inactive=not active_only):
            state = "" if user.is_active else "  [deactivated]"
            click.echo(f"{user.username:<28}{user.full_name:<32}{', '.join(held) or '-'}{state}")


@click.group()
def substitutions() -> None:
    """A head's substitute for a date range (αναπλήρωση)."""


@substitutions.command("add")
@click.argument("unit_code")
@click.argument("head")
@click.argument("substitute")
@click.option("--from", "starts_on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option(
    "--to", "ends_on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (included)."
)
@click.option("--reason", help="e.g. annual leave")
@click.pass_context
def add_substitution(
    ctx: click.Context,
    unit_code: str,
    head: str,
    substitute: str,
    starts_on: date,
    ends_on: date,
    reason: str | None,
) -> None:
    """SUBSTITUTE stands in for HEAD of UNIT_CODE from --from to --to (Athens days)."""
    from engine.people.orgchart import find_user_by_username, get_unit
    from engine.people.substitutions import name_substitute

    with unit_of_work(ctx) as session:
        name_substitute(
            session,
            unit=get_unit(session, unit_code),
            head=find_user_by_username(session, head),
            substitute=find_user_by_username(session, substitute),
            starts_on=starts_on.date() if hasattr(starts_on, "date") else starts_on,
            ends_on=ends_on.date() if hasattr(ends_on, "date") else ends_on,
            by=operator(),
            reason=reason,
        )
    click.echo(f"{substitute} substitutes for {head} ({unit_code}).")


@click.group()
def documents() -> None:
    """Issued documents (certificates)."""


@documents.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why; shown on the public verification page.")
@click.pass_context
def revoke(ctx: click.Context, code: str, reason: str) -> None:
    """Revoke the issued document with verification CODE (cannot be undone).

    Codes of older documents may begin with a dash: write ``--`` before such a code
    (``polis documents revoke --reason "..." -- -AbC...``).
    """
    from engine.issuing.revocation import revoke_issued_document

    with unit_of_work(ctx) as session:
        document = revoke_issued_document(session, code, reason=reason, by=operator())
        click.echo(f"Document {document.verification_code} revoked: {reason}")
