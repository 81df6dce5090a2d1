"""``polis run``'s children: started, watched, and restarted with backoff when one dies.

A production server runs web, worker and database as separate systemd services (see the
README, deploy/systemd/); ``polis run`` does the same job in one process tree for small
installations and the demo. Every start, death and restart is said on stderr with the
process's name and pid, so an operator reading the log knows what happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from core.errors import ConfigurationError

#: The first restart waits this long, each next one twice as long, up to the maximum;
#: a child that then runs for a minute starts over at the first delay.
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_AFTER = 60.0
#: How long a web start waits for web workers left over from a killed master.
LEFTOVER_WAIT = 30.0
#: How long a leftover web worker may finish its request after SIGTERM before SIGQUIT.
LEFTOVER_GRACE = 3.0
WEB_APP = "web.app:create_app"


@dataclass
class Child:
    """One supervised process: its name, how to start it, and its restart bookkeeping."""

    name: str
    command: list[str]
    env: dict[str, str]
    before_start: Callable[[], None] | None = None
    process: subprocess.Popen[Any] | None = None
    started_at: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        """Start the process (after ``before_start``, e.g. waiting for the port)."""
        if self.before_start is not None:
            self.before_start()
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started_at = time.monotonic()


def describe_exit(code: int) -> str:
    """'exited with status 1' or 'was killed by SIGKILL'."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def supervise(
    children: list[Child], stop: Callable[[], bool], extra_check: Callable[[], None] | None = None
) -> None:
    """Watch ``children`` until ``stop()``: restart a dead one with backoff, saying so."""
    while not stop():
        now = time.monotonic()
        for child in children:
            process = child.process
            if child.restart_at is None and process is not None and process.poll() is not None:
                if now - child.started_at > STABLE_AFTER:
                    child.delay = FIRST_DELAY
                child.restart_at = now + child.delay
                click.secho(
                    f"polis run: the {child.name} (pid {process.pid}) {describe_exit(process.returncode)}; "
                    f"restarting it in {child.delay:.0f} s",
                    fg="yellow",
                    err=True,
                )
                child.delay = min(child.delay * 2, MAX_DELAY)
            if child.restart_at is not None and now >= child.restart_at:
                child.restart_at = None
                try:
                    child.start()
                except Exception as exc:  # e.g. the port still held: try again later
                    child.restart_at = time.monotonic() + child.delay
                    click.secho(
                        f"polis run: could not restart the {child.name}: {exc}; "
                        f"trying again in {child.delay:.0f} s",
                        fg="red",
                        err=True,
                    )
                    child.delay = min(child.delay * 2, MAX_DELAY)
                    continue
                child.restarts += 1
                assert child.process is not None
                click.secho(
                    f"polis run: restarted the {child.name} "
                    f"(now pid {child.process.pid}, restart {child.restarts})",
                    fg="green",
                    err=True,
                )
        if extra_check is not None:
            extra_check()
        time.sleep(0.5)


# Who holds a port ------------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def port_holders(port: int) -> list[tuple[int, str]]:
    """Processes listening on ``port`` (pid, command line), as far as /proc lets us see."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            targets = {str(fd.readlink()) for fd in (entry / "fd").iterdir()}
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if any(f"socket:[{inode}]" in targets for inode in inodes):
            found.append((int(entry.name), command))
    return found


def _orphaned(pid: int) -> bool:
    """Whether a web worker lost its gunicorn master (its parent is no longer a gunicorn)."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        command = Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return True
    return b"gunicorn" not in command


def _port_free(host: str, port: int) -> OSError | None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc
    return None


def wait_for_port(bind: str, timeout: float = LEFTOVER_WAIT) -> None:
    """Return when ``bind`` is free; wait for Polis's own leftover web workers, name anything else.

    A web worker whose master was killed keeps the listening socket until it notices
    (gunicorn's workers look only every 15 s or so): that is Polis's own, so it is asked
    to finish its request and exit (SIGTERM), then after a few seconds told to quit
    (SIGQUIT), and waited for. A Polis web server whose
    master still runs, or another program, is named with its pid.
    """
    host, _, port_text = bind.rpartition(":")
    port = int(port_text)
    deadline = time.monotonic() + timeout
    announced = hurried = False
    hurry_at = 0.0
    while True:
        error = _port_free(host, port)
        if error is None:
            return
        holders = port_holders(port)
        if not holders and announced and time.monotonic() < deadline:
            time.sleep(0.2)  # our leftovers are closing the socket: a moment more
            continue
        ours = [h for h in holders if WEB_APP in h[1] and _orphaned(h[0])]
        if ours and len(ours) == len(holders) and time.monotonic() < deadline:
            if announced and not hurried and time.monotonic() > hurry_at:
                # An idle sync worker notices SIGTERM only when its accept wait ends (up to
                # half the worker timeout): SIGQUIT ends it now; a request it was serving
                # has had its seconds to finish.
                for pid, _ in ours:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGQUIT)
                hurried = True
            if not announced:
                pids = ", ".join(str(pid) for pid, _ in ours)
                click.echo(
                    f"polis run: port {port} is still held by Polis web worker(s) left over from a killed "
                    f"server (pid {pids}); asking them to finish their requests and exit (up to "
                    f"{timeout:.0f} s)",
                    err=True,
                )
                for pid, _ in ours:  # SIGTERM: a gunicorn worker ends its request, then exits
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                announced = True
                hurry_at = time.monotonic() + LEFTOVER_GRACE
            time.sleep(0.5)
            continue
        if ours:
            pids = " ".join(str(pid) for pid, _ in ours)
            raise ConfigurationError(
                f"Cannot listen on {bind}: Polis web worker(s) left over from an earlier run still hold it "
                f"(pid {pids}) after {timeout:.0f} s. Stop them with 'kill -9 {pids}' and start again."
            )
        polis = [pid for pid, command in holders if WEB_APP in command]
        if polis:
            pids = " ".join(str(pid) for pid in polis)
            raise ConfigurationError(
                f"Cannot listen on {bind}: another Polis web server runs there (pid {pids}). Stop it "
                "(Ctrl-C in its terminal, or 'systemctl stop polis-web'), or choose another port, "
                f"e.g. POLIS_BIND={host}:{port + 1}."
            )
        named = "; ".join(f"pid {pid}: {command[:120]}" for pid, command in holders)
        who = f"it is used by {named}" if named else "another program uses it (not one we can see)"
        raise ConfigurationError(
            f"Cannot listen on {bind}: {error.strerror}; {who}. Stop that program, or choose another port, "
            f"e.g. POLIS_BIND={host}:{port + 1}."
        )
