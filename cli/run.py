"""``polis run``: everything ``make run`` needs, in one process tree.

It prepares the database (the embedded cluster unless POLIS_DATABASE_URL is set), applies
migrations, creates the demo municipality outside production, starts the web server
(gunicorn) and the worker, waits until ``/healthz`` answers, prints the address and the
demo logins, and on Ctrl-C or SIGTERM stops what it started, the embedded cluster last.
While it runs it restarts a web server or worker that died (with backoff, saying which and
why: cli.supervise) and starts the embedded cluster again if it stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import click

from cli.context import prepare_database, settings_of
from cli.supervise import Child, supervise, wait_for_port
from core.database import database_url, embedded_cluster, migration_database_url, upgrade_database
from core.errors import ConfigurationError, ServiceUnavailable
from core.orm import make_engine, make_session_factory, session_scope
from core.pgcluster import PgCluster
from core.settings import Settings
from engine.people.demo import ACCOUNTS, DEMO_PASSWORD, seed_demo_municipality
from signing.config import start_demo_services
from storage import open_store

#: How often ``polis run`` looks whether its embedded cluster still runs.
CLUSTER_CHECK_SECONDS = 5.0


def deploy_builtin_processes(settings: Settings) -> list[str]:
    """Deploy processes/*.bpmn (a file whose content is already deployed is left as it is)."""
    from engine.workflow.definitions import deploy_directory

    engine = make_engine(database_url(settings))
    try:
        with session_scope(make_session_factory(engine)) as session:
            return [f"{result.process_id} v{result.version}" for result in deploy_directory(session)]
    finally:
        engine.dispose()


def seed_demo(settings: Settings) -> bool:
    """Create the demo municipality if the database has none."""
    engine = make_engine(database_url(settings))
    try:
        with session_scope(make_session_factory(engine)) as session:
            return seed_demo_municipality(session)
    finally:
        engine.dispose()


def _wait_healthy(url: str, process: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailable(
                f"The web server exited (status {process.returncode}); see its log above."
            )
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310 - our own http URL
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise ServiceUnavailable(f"Polis did not become healthy within {timeout:.0f} s: {last}")


def _banner(settings: Settings, url: str, demo: bool, processes: list[str], outbox: str | None) -> None:
    line = "─" * 64
    click.echo(line)
    click.secho(f"  Polis is running: {url}", fg="green", bold=True)
    click.echo(f"  Municipality: {settings.municipality_name}")
    where = f"embedded, {settings.var_dir / 'pg'}" if not settings.database_url else "external server"
    click.echo(f"  Database:     {where}")
    click.echo(f"  Files:        {open_store(settings).describe()}")
    click.echo(f"  Processes:    {', '.join(processes) or 'none'}")
    if settings.signing_signer == "demo":
        click.echo(f"  Seal:         DEMO e-seal, NOT QUALIFIED (var/pki), PAdES {settings.signing_level}")
    else:
        click.echo(f"  Seal:         {settings.signing_signer}, PAdES {settings.signing_level}")
    if outbox:
        click.echo(f"  Notices:      written as files to {outbox} (no SMTP server / SMS gateway set)")
    if demo:
        click.echo(f"  Demo logins (password for all: {DEMO_PASSWORD}):")
        width = max(len(account.username) for account in ACCOUNTS) + 2
        for account in ACCOUNTS:
            click.echo(f"    {account.username:<{width}}{account.description}")
    click.echo("  Stop with Ctrl-C.")
    click.echo(line)


@click.command()
@click.option(
    "--demo/--no-demo", default=None, help="Create the demo municipality (default: unless production)."
)
@click.option("--check-only", is_flag=True, help="Prepare everything, start, wait until healthy, then stop.")
@click.pass_context
def run(ctx: click.Context, demo: bool | None, check_only: bool) -> None:
    """Start Polis: database, migrations, processes, demo data, web server and worker."""
    settings = settings_of(ctx)
    demo = settings.env != "production" if demo is None else demo
    wait_for_port(settings.bind)
    store = open_store(settings)
    store.check()
    cluster = None if settings.database_url else embedded_cluster(settings)
    was_running = cluster.is_running() if cluster else True
    prepare_database(settings)
    children: list[Child] = []
    # With the demo signer: generate var/pki once and serve its TSA/OCSP/CRLs on 127.0.0.1
    # from this process, so the web server and the worker seal at B-LT with no network.
    pki_server = start_demo_services(settings)

    def shutdown(*_args: Any) -> None:
        if pki_server is not None:
            pki_server.stop()
        processes = [child.process for child in children if child.process is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if cluster is not None and not was_running:
            cluster.stop()
            click.echo("PostgreSQL stopped.")

    def stop_requested(*_args: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM (systemd, docker stop) both end in the same clean shutdown, even
    # when started from a script that left SIGINT ignored.
    signal.signal(signal.SIGINT, stop_requested)
    signal.signal(signal.SIGTERM, stop_requested)
    try:
        upgrade_database(migration_database_url(settings))
        deployed = deploy_builtin_processes(settings)
        if demo:
            seed_demo(settings)
        env = dict(os.environ)
        if demo and settings.outbox_dir is None and not (settings.smtp_host and settings.sms_gateway_url):
            # No mail server yet: the demo's notices become files a newcomer can open.
            env["POLIS_OUTBOX_DIR"] = str(settings.var_dir / "outbox")
        command = gunicorn_command(settings)
        web = Child("web server", command, env, before_start=lambda: wait_for_port(settings.bind))
        # Timers, service tasks and messages run in the worker, a process of its own.
        worker = Child("worker", [sys.executable, "-m", "cli", "worker"], env)
        children.extend([web, worker])
        for child in children:
            child.start()
        assert web.process is not None
        public = f"http://{settings.bind}"
        _wait_healthy(public, web.process)
        _banner(settings, settings.base_url or public, demo, deployed, env.get("POLIS_OUTBOX_DIR"))
        pids = ", ".join(f"{c.name} pid {c.process.pid}" for c in children if c.process is not None)
        click.echo(f"polis run: {pids}; a process that dies is restarted", err=True)
        if check_only:
            return
        supervise(children, lambda: False, _cluster_watch(cluster) if cluster is not None else None)
    except KeyboardInterrupt:
        click.echo("Stopping Polis ...")
    finally:
        shutdown()


def gunicorn_command(settings: Settings) -> list[str]:
    """The web server's command line.

    * gthread workers: a slow client (or a long PAdES validation) holds one thread, not a
      whole process, so two slow requests no longer stall /healthz and the staff pages;
    * no request-line limit in gunicorn (its maximum, 8190 bytes, answers an HTML 414 of its
      own): the app refuses URLs over 8 KB with our JSON or page (web/input_guard.py). In
      production the reverse proxy bounds the line first (nginx large_client_header_buffers).
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        settings.bind,
        "--workers",
        str(settings.web_workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(settings.web_threads),
        "--limit-request-line",
        "0",
        "--access-logfile",
        "-",
        # tracking codes, receipt/reset/verification tokens are masked in access and error logs
        "--logger-class",
        "web.log_masking.MaskingGunicornLogger",
        "--no-control-socket",
        "--graceful-timeout",
        "10",
        "web.app:create_app()",
    ]


def _cluster_watch(cluster: PgCluster) -> Callable[[], None]:
    """A check for the supervisor loop: start the embedded cluster again if it stopped."""
    next_look = time.monotonic() + CLUSTER_CHECK_SECONDS

    def check() -> None:
        nonlocal next_look
        if time.monotonic() < next_look:
            return
        next_look = time.monotonic() + CLUSTER_CHECK_SECONDS
        if cluster.is_running():
            return
        click.secho(
            "polis run: PostgreSQL (embedded) is not running; starting it again", fg="yellow", err=True
        )
        try:
            cluster.ensure_running()
        except ServiceUnavailable as exc:
            click.secho(
                f"polis run: PostgreSQL did not start: {exc.message}; trying again", fg="red", err=True
            )
            return
        click.secho("polis run: PostgreSQL is running again", fg="green", err=True)

    return check


@click.group()
def demo() -> None:
    """The demo municipality."""


@demo.command("seed")
@click.pass_context
def demo_seed(ctx: click.Context) -> None:
    """Create the demo departments and accounts (once)."""
    settings = settings_of(ctx)
    if settings.env == "production":
        raise ConfigurationError("Refusing to create demo accounts with POLIS_ENV=production.")
    prepare_database(settings)
    added = seed_demo(settings)
    click.echo("Demo municipality created." if added else "Demo municipality already present.")
