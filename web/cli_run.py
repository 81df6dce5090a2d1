"""``polis run``: everything ``make run`` needs, in one process tree.

It prepares the database (the embedded cluster unless POLIS_DATABASE_URL is set), applies
migrations, creates the demo municipality outside production, starts the web server
(gunicorn), waits until ``/healthz`` answers, prints the address and the demo logins, and
on Ctrl-C or SIGTERM stops what it started, the embedded cluster last.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import click

from core.database import database_url, embedded_cluster, migration_database_url, upgrade_database
from core.db import make_engine, make_session_factory, session_scope
from core.errors import ConfigurationError, ServiceUnavailable
from core.settings import Settings
from engine.demo import ACCOUNTS, DEMO_PASSWORD, seed_demo_municipality
from signing.config import start_demo_services
from storage import open_store
from web.cli import settings_of
from web.cli_db import prepare_database


def check_port_free(bind: str) -> None:
    """Fail with a clear message if something already listens on ``bind``."""
    host, _, port = bind.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot listen on {bind}: {exc.strerror}. Another program (perhaps another Polis) "
                f"uses port {port}: stop it, or choose another port, e.g. POLIS_BIND={host}:{int(port) + 1}."
            ) from exc


def deploy_builtin_processes(settings: Settings) -> list[str]:
    """Deploy processes/*.bpmn (a file whose content is already deployed is left as it is)."""
    from engine.definitions import deploy_directory

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
    check_port_free(settings.bind)
    store = open_store(settings)
    store.check()
    cluster = None if settings.database_url else embedded_cluster(settings)
    was_running = cluster.is_running() if cluster else True
    prepare_database(settings)
    children: list[subprocess.Popen[Any]] = []
    # With the demo signer: generate var/pki once and serve its TSA/OCSP/CRLs on 127.0.0.1
    # from this process, so the web server and the worker seal at B-LT with no network.
    pki_server = start_demo_services(settings)

    def shutdown(*_args: Any) -> None:
        if pki_server is not None:
            pki_server.stop()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
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
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            settings.bind,
            "--workers",
            str(settings.web_workers),
            "--access-logfile",
            "-",
            "--no-control-socket",
            "--graceful-timeout",
            "10",
            "web.app:create_app()",
        ]
        children.append(subprocess.Popen(command, env=env))
        # Timers, service tasks and messages run in the worker, a process of its own.
        children.append(subprocess.Popen([sys.executable, "-m", "web", "worker"], env=env))
        public = f"http://{settings.bind}"
        _wait_healthy(public, children[0])
        _banner(settings, settings.base_url or public, demo, deployed, env.get("POLIS_OUTBOX_DIR"))
        if check_only:
            return
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        raise ServiceUnavailable("A Polis process exited unexpectedly; see the log above.")
    except KeyboardInterrupt:
        click.echo("Stopping Polis ...")
    finally:
        shutdown()


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
