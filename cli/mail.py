"""``polis mail``: the municipal mailbox's intake (messages become draft registrations)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from cli.context import prepare_database, settings_of, unit_of_work
from core.orm import make_engine, make_session_factory
from storage import open_store


@click.group()
def mail() -> None:
    """Email intake for the protocol office."""


@mail.command()
@click.option("--bind", default="127.0.0.1:2525", show_default=True, help="host:port to listen on (SMTP).")
@click.pass_context
def serve(ctx: click.Context, bind: str) -> None:
    """Listen for SMTP deliveries from the municipal mail server until stopped.

    Point the mailbox's transport at it (Postfix: ``transport_maps`` → ``smtp:[127.0.0.1]:2525``).
    It does no authentication: bind it to loopback or a private network only.
    """
    from engine.documents.smtp import start_listener

    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("use host:port, e.g. 127.0.0.1:2525", param_hint="--bind")
    settings = settings_of(ctx)
    engine = make_engine(prepare_database(settings))
    listener = start_listener(make_session_factory(engine), open_store(settings), host, int(port))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"polis mail: listening on {bind} (Ctrl-C to stop)")
    try:
        stop.wait()
    finally:
        listener.stop()
        engine.dispose()
    click.echo("polis mail: stopped")


@mail.command("list")
@click.option("--held", is_flag=True, help="The held messages (with the reason) instead of the drafts.")
@click.pass_context
def list_messages(ctx: click.Context, held: bool) -> None:
    """Drafts waiting for the protocol office, or messages held for a person to look at."""
    from engine.documents.mail import drafts

    with unit_of_work(ctx) as session:
        for draft in drafts(session, status="held" if held else "draft"):
            reason = f"  [{draft.hold_reason}]" if draft.hold_reason else ""
            click.echo(
                f"{draft.received_at:%Y-%m-%d %H:%M}  {draft.sender or '?'}  {draft.subject or ''}{reason}"
            )


@mail.command("exchange")
@click.option(
    "--drop",
    "drop",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The ΚΣΗΔΕ file-drop folder (inbox/, taken/, acks/, outbox/ are made inside).",
)
@click.pass_context
def exchange(ctx: click.Context, drop: Path) -> None:
    """One round of the ΚΣΗΔΕ exchange: packages in the drop folder become drafts (or are held
    with the reason) and registered ones are acknowledged. Run it from a timer."""
    from engine.documents.exchange import FileDropExchange, exchange_round

    settings = settings_of(ctx)
    engine = make_engine(prepare_database(settings))
    try:
        report = exchange_round(make_session_factory(engine), open_store(settings), FileDropExchange(drop))
    finally:
        engine.dispose()
    click.echo(
        f"polis mail exchange: {report.drafts} drafts, {report.held} held, {report.duplicates} duplicates,"
        f" {report.acknowledged} acknowledged"
    )
    if report.failed:
        raise click.ClickException(
            f"{len(report.failed)} packages could not be kept and stay in the inbox:"
            f" {', '.join(report.failed)}"
        )
