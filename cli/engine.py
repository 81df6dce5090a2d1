"""``polis processes|worker|audit|incidents|messages``: operating the engine from the shell."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from cli.context import prepare_database, settings_of, unit_of_work
from core.orm import make_engine, make_session_factory


@click.group()
def processes() -> None:
    """Validate, deploy and list BPMN process definitions."""


@processes.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def validate(files: tuple[Path, ...]) -> None:
    """Check BPMN FILES without deploying them (no database needed)."""
    from engine.workflow.definitions import validate_file

    for path in files:
        validate_file(path.read_bytes(), path.name)
        click.echo(f"{path}: OK")


@processes.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def deploy(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Deploy BPMN FILES (default: every processes/*.bpmn); unchanged files keep their version."""
    from engine.workflow.definitions import PROCESSES_DIR, deploy_definition

    paths = list(files) or sorted(PROCESSES_DIR.glob("*.bpmn"))
    with unit_of_work(ctx) as session:
        for path in paths:
            result = deploy_definition(session, path.read_bytes(), path.name)
            # An older file changes nothing: say so loudly rather than "unchanged".
            click.echo(result.describe(path.name), err=result.is_older)


@processes.command("list")
@click.pass_context
def list_processes(ctx: click.Context) -> None:
    """List deployed definitions, newest version first."""
    from engine.workflow.definitions import list_definitions

    with unit_of_work(ctx) as session:
        rows = list_definitions(session)
        if not rows:
            click.echo("No process is deployed yet; run `polis processes deploy`.")
        for row in rows:
            click.echo(
                f"{row.process_id:<32} v{row.version:<4} {row.content_hash[:12]}  "
                f"{row.deployed_at:%Y-%m-%d %H:%M}  {row.name}"
            )


@processes.command("schedules")
@click.option("--pause", "pause", metavar="PROCESS_ID", help="Stop starting cases of this process.")
@click.option("--resume", "resume", metavar="PROCESS_ID", help="Start its cases again (from now on).")
@click.pass_context
def schedules(ctx: click.Context, pause: str | None, resume: str | None) -> None:
    """List timer start schedules (next start in Athens time); pause or resume one."""
    from core.clock import ATHENS
    from engine.administration.runtime import pause_schedule
    from engine.people.admin_audit import CLI_OPERATOR
    from engine.workflow.schedules import list_schedules

    with unit_of_work(ctx) as session:
        for process_id, paused in ((pause, True), (resume, False)):
            if process_id:
                pause_schedule(session, CLI_OPERATOR, process_id, paused=paused)  # audited
                click.echo(f"{process_id}: {'paused' if paused else 'resumed'}")
        rows = list_schedules(session)
        if not rows:
            click.echo("No deployed process has a timer start event.")
        for schedule, version in rows:
            if schedule.paused:
                due = "paused"
            elif schedule.next_due_at is None:
                due = "finished"
            else:
                due = f"{schedule.next_due_at.astimezone(ATHENS):%Y-%m-%d %H:%M %Z}"
            left = "∞" if schedule.remaining is None else str(schedule.remaining)
            click.echo(
                f"{schedule.process_id:<32} v{version:<4} {schedule.expression:<36} next {due:<22} "
                f"remaining {left}" + ("  working days only" if schedule.working_days_only else "")
            )
            if schedule.last_error:
                click.echo(f"    last error: {schedule.last_error}")


@click.command()
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks for due work.")
@click.pass_context
def worker(ctx: click.Context, poll: float) -> None:
    """Fire due timers and run service tasks until stopped (Ctrl-C or SIGTERM)."""
    import logging
    import threading

    from engine.workflow.jobs import run_worker

    settings = settings_of(ctx)
    # Timestamps and levels on stderr: what the worker says about lost connections,
    # retries and incidents is the operator's log (journalctl -u polis-worker).
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(prepare_database(settings))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("polis worker: running (Ctrl-C to stop)")
    try:
        run_worker(make_session_factory(engine), stop, poll)
    except KeyboardInterrupt:
        stop.set()
    finally:
        engine.dispose()
    click.echo("polis worker: stopped")


@click.group()
def audit() -> None:
    """Check the case audit logs and the admin log, and anchor them with the time-stamping authority."""


@audit.command("verify")
@click.option("--case", "case_ref", help="Only this case's chain (number or tracking code); no anchors.")
@click.pass_context
def verify(ctx: click.Context, case_ref: str | None) -> None:
    """Recompute every hash chain (the cases', and the admin log's unless --case) and check them
    and the protocol register against the anchors; exit 1 if anything was edited, deleted or
    rewritten."""
    from engine.audit_anchors import checker_from_settings, verify_anchors
    from engine.people.admin_audit import verify_admin_chain
    from engine.workflow.audit import verify_audit
    from engine.workflow.commands import find_case

    with unit_of_work(ctx) as session:
        case_id = find_case(session, case_ref).id if case_ref else None
        problems = verify_audit(session, case_id)
        report = None if case_ref else verify_anchors(session, checker_from_settings(settings_of(ctx)))
        admin_problems = [] if case_ref else verify_admin_chain(session)
    for problem in problems:
        click.secho(f"case {problem.case_number}, entry {problem.seq}: {problem.message}", fg="red")
    for message in [*(report.problems if report else []), *admin_problems]:
        click.secho(message, fg="red")
    if problems or admin_problems or (report and not report.ok):
        raise SystemExit(1)
    if report and report.anchors:
        click.echo(
            f"Audit logs intact (cases and admin log); {report.anchors} anchor(s), the last of"
            f" {report.last_anchored_at:%Y-%m-%d %H:%M} UTC: {report.cases_checked} case chain(s) and"
            f" {report.series_checked} protocol series checked against it."
        )
    elif report:
        click.echo(
            "Audit logs intact (cases and admin log). No anchor yet: run `polis audit anchor`"
            " (the worker does it daily)."
        )
    else:
        click.echo("Audit log intact.")


@audit.command("anchor")
@click.pass_context
def anchor(ctx: click.Context) -> None:
    """Timestamp the heads of every audit chain and of the protocol register now (RFC 3161)."""
    from engine.audit_anchors import anchor_now
    from signing.config import start_demo_services

    settings = settings_of(ctx)
    server = start_demo_services(settings)
    try:
        with unit_of_work(ctx) as session:
            taken = anchor_now(session, settings)
            digest, at = taken.digest, taken.tsa_time
    finally:
        if server is not None:
            server.stop()
    click.echo(f"Anchored at {at:%Y-%m-%d %H:%M:%S} UTC: {digest}")
    click.echo("Keep this digest outside Polis too (it shows if anchors are ever removed).")


@click.group()
def incidents() -> None:
    """Service tasks that failed all their retries."""


@incidents.command("list")
@click.pass_context
def list_incidents(ctx: click.Context) -> None:
    """Show open incidents."""
    from engine.workflow.timers import open_incidents

    with unit_of_work(ctx) as session:
        rows = open_incidents(session)
        if not rows:
            click.echo("No open incidents.")
        for row in rows:
            click.echo(
                f"#{row.id}  case {row.case_id}  {row.kind} {row.bpmn_id} ({row.handler})  "
                f"{row.created_at:%Y-%m-%d %H:%M}  after {row.attempts} tries: {row.error}"
            )


@incidents.command("retry")
@click.argument("incident_id", type=int)
@click.pass_context
def retry(ctx: click.Context, incident_id: int) -> None:
    """Run the failed service task, timer steps or notice of INCIDENT_ID again (the worker picks it up)."""
    from engine.administration.runtime import retry_open_incident
    from engine.people.admin_audit import CLI_OPERATOR

    with unit_of_work(ctx) as session:
        retry_open_incident(session, CLI_OPERATOR, incident_id)  # audited in the admin log
    click.echo(f"Incident #{incident_id} scheduled for retry.")


@click.group()
def messages() -> None:
    """Messages kept for cases that did not wait for them yet."""


@messages.command("purge")
@click.pass_context
def purge(ctx: click.Context) -> None:
    """Delete kept messages whose expiry has passed (the worker also does this hourly)."""
    from engine.workflow.messages import purge_expired_messages

    with unit_of_work(ctx) as session:
        purged = purge_expired_messages(session)
    click.echo(f"Purged {purged} expired message(s).")
