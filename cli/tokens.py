"""``polis tokens create|list|revoke``: API tokens for staff and integrations."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from cli.context import unit_of_work
from core.clock import ATHENS


def _when(moment: datetime | None) -> str:
    return moment.astimezone(ATHENS).strftime("%Y-%m-%d %H:%M") if moment else "-"


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (Authorization: Bearer <token>)."""


@tokens.command("create")
@click.option("--user", "username", required=True, help="The member of staff the token acts as.")
@click.option("--name", required=True, help="What or who uses the token, e.g. 'archive sync'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["read", "write"]),
    help="read (GET) and/or write (changes); both when not given.",
)
@click.option(
    "--expires-days", type=click.IntRange(min=1), help="Expire after this many days (default: never)."
)
@click.pass_context
def create(
    ctx: click.Context, username: str, name: str, scopes: tuple[str, ...], expires_days: int | None
) -> None:
    """Create a token and print it ONCE: only its hash is kept."""
    from core.clock import utcnow
    from engine.administration.tokens import issue_token
    from engine.casework.desk import find_user
    from engine.people.admin_audit import CLI_OPERATOR
    from engine.people.tokens import SCOPES

    with unit_of_work(ctx) as session:
        user = find_user(session, username)
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        issued = issue_token(  # audited in the admin log, as from the administration pages
            session,
            CLI_OPERATOR,
            owner=user.username,
            name=name,
            scopes=scopes or SCOPES,
            expires_at=expires,
        )
        click.echo(f"token {issued.token.id} for {user.username} ({', '.join(issued.token.scopes)})")
        click.echo("Copy it now; it cannot be shown again:")
        click.echo(issued.secret)


@tokens.command("list")
@click.option("--user", "username", help="Only the tokens of this user.")
@click.pass_context
def list_(ctx: click.Context, username: str | None) -> None:
    """List tokens (never the tokens themselves)."""
    from sqlalchemy import select

    from engine.casework.desk import find_user
    from engine.people.models import User
    from engine.people.tokens import list_tokens

    with unit_of_work(ctx) as session:
        user = find_user(session, username) if username else None
        rows = list_tokens(session, user)
        owners = {row.user_id for row in rows}
        users = dict(session.execute(select(User.id, User.username).where(User.id.in_(owners))).all())
        for row in rows:
            state = "revoked" if row.revoked_at else "active"
            click.echo(
                f"{row.id}  {row.hint}…  {users[row.user_id]:<20} {row.name!r:<30} "
                f"{','.join(row.scopes):<10} {state:<8} created {_when(row.created_at)}  "
                f"last used {_when(row.last_used_at)}  expires {_when(row.expires_at)}"
            )
        if not rows:
            click.echo("no tokens")


@tokens.command("revoke")
@click.argument("token_id")
@click.pass_context
def revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke token TOKEN_ID for good."""
    from engine.administration.tokens import withdraw_token
    from engine.people.admin_audit import CLI_OPERATOR

    with unit_of_work(ctx) as session:
        token = withdraw_token(session, CLI_OPERATOR, token_id)
        click.echo(f"token {token.id} ({token.name}) revoked")
