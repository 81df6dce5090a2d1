"""A private PostgreSQL cluster that Polis starts itself (``make run`` and the tests).

The same code serves both: ``make run`` keeps its cluster under ``var/pg`` and reuses it on
every start; the test suite makes a throwaway one in a temporary directory with durability
switched off. PostgreSQL refuses to run as root, so when we are root every server command
runs as the ``postgres`` system user, which then owns the data and socket directories.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigurationError, ServiceUnavailable

SERVER_USER = "postgres"
#: The longest Unix socket path the kernel accepts is 107 bytes; leave room for the file name.
_MAX_SOCKET_DIR = 90
#: How long a start waits for a server found running but not answering (crash recovery).
RECOVERY_TIMEOUT = 120.0
_SEARCH_PATTERNS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")


class ClusterError(ServiceUnavailable):
    """The embedded PostgreSQL cluster could not be prepared, started or stopped."""


def find_bin_dir(preferred: Path | None = None) -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest installed version."""
    if preferred is not None:
        if (preferred / "pg_ctl").exists() and (preferred / "initdb").exists():
            return preferred
        raise ConfigurationError(
            f"POLIS_PG_BIN_DIR={preferred} holds no initdb/pg_ctl. Point it at a PostgreSQL "
            "bin directory, e.g. POLIS_PG_BIN_DIR=/usr/lib/postgresql/15/bin."
        )
    candidates: list[Path] = []
    for pattern in _SEARCH_PATTERNS:
        candidates.extend(Path("/").glob(pattern.lstrip("/")))
    usable = [c for c in candidates if (c / "pg_ctl").exists() and (c / "initdb").exists()]

    def version(path: Path) -> tuple[int, ...]:
        digits = "".join(ch if ch.isdigit() or ch == "." else " " for ch in str(path)).split()
        return tuple(int(part) for part in digits[0].split(".") if part) if digits else (0,)

    if usable:
        return max(usable, key=version)
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).parent / "initdb").exists():
        return Path(on_path).parent
    raise ConfigurationError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with "
        "'sudo apt-get install postgresql' (Debian/Ubuntu), set POLIS_PG_BIN_DIR to their "
        "directory, or set POLIS_DATABASE_URL to use an existing server."
    )


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres_process(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in command


@dataclass
class PgCluster:
    """One PostgreSQL data directory and the server that serves it on a Unix socket."""

    data_dir: Path
    socket_dir: Path | None = None
    port: int = 5432
    tcp_port: int | None = None
    durable: bool = True
    bin_dir: Path | None = None
    log_file: Path | None = None
    _started_here: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.absolute()
        if self.socket_dir is None:
            self.socket_dir = self.data_dir.parent / "run"
        self.socket_dir = self.socket_dir.absolute()
        if len(str(self.socket_dir)) > _MAX_SOCKET_DIR:
            # Too long for a Unix socket path: use a short, stable directory instead.
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            self.socket_dir = Path(tempfile.gettempdir()) / f"polis-pg-{digest}"
        if self.log_file is None:
            self.log_file = self.data_dir.parent / "log" / "postgresql.log"

    # Paths and URLs -------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        """Whether the data directory already holds a cluster."""
        return (self.data_dir / "PG_VERSION").exists()

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this cluster, over the Unix socket."""
        return f"postgresql+psycopg://{SERVER_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def libpq_kwargs(self, database: str = "postgres") -> dict[str, str | int]:
        """Keyword arguments for ``psycopg.connect``."""
        return {"host": str(self.socket_dir), "port": self.port, "user": SERVER_USER, "dbname": database}

    # Lifecycle ------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Initialise the cluster if there is none, then start it unless it already runs."""
        self._prepare_directories()
        if not self.initialised:
            self._initdb()
        if self.is_running():
            # Right after a crash the old server may still be exiting, or a new one still
            # replaying its log: wait until it answers, or start it once it is gone.
            self._wait_ready(timeout=RECOVERY_TIMEOUT, start_if_gone=True)
            return
        self._clear_stale_lock()
        self._start()

    def is_running(self) -> bool:
        """Whether a server is serving this data directory now."""
        if not self.initialised:
            return False
        result = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs (``fast`` rolls back open transactions, then stops)."""
        if not self.is_running():
            return
        result = self._run(
            [self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60"],
            check=False,
        )
        if result.returncode != 0 and not self.is_running():
            return  # it was a server already going away (after a crash): stopped all the same
        if result.returncode != 0:
            raise ClusterError(f"PostgreSQL did not stop cleanly: {result.stderr.strip()}")

    def stop_if_started_here(self) -> None:
        """Stop the server only if this object started it (a reused server keeps running)."""
        if self._started_here:
            self.stop()
            self._started_here = False

    def ensure_database(self, name: str, template: str | None = None) -> None:
        """Create database ``name`` unless it exists."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self.libpq_kwargs(), autocommit=True) as connection:  # type: ignore[arg-type]
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists:
                return
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            connection.execute(statement)

    # Internals ------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        if self.bin_dir is None:
            self.bin_dir = find_bin_dir()
        return str(self.bin_dir / name)

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if _running_as_root():
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            raise ClusterError(f"'{' '.join(command)}' failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _prepare_directories(self) -> None:
        assert self.socket_dir is not None and self.log_file is not None
        if self.data_dir.exists() and not self.initialised and any(self.data_dir.iterdir()):
            raise ClusterError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster. Polis will not "
                "touch it: move it away, or set POLIS_VAR_DIR to another directory."
            )
        owner = self._server_owner()
        for directory, mode in (
            (self.data_dir, 0o700),
            (self.socket_dir, 0o755),
            (self.log_file.parent, 0o755),
        ):
            try:
                directory.mkdir(parents=True, exist_ok=True)
                if owner is not None:
                    os.chown(directory, owner.pw_uid, owner.pw_gid)
                os.chmod(directory, mode)
            except OSError as exc:
                raise ClusterError(
                    f"Cannot prepare {directory}: {exc.strerror}. Make it writable, or set "
                    "POLIS_VAR_DIR to a writable directory (or POLIS_DATABASE_URL to an "
                    "existing server)."
                ) from exc
        if owner is not None:
            probe = subprocess.run(
                ["runuser", "-u", SERVER_USER, "--", "test", "-w", str(self.data_dir)],
                capture_output=True,
                check=False,
            )
            if probe.returncode != 0:
                raise ClusterError(
                    f"The '{SERVER_USER}' system user cannot reach {self.data_dir} (a parent "
                    "directory is private). Put Polis in a directory others can traverse, or "
                    "set POLIS_VAR_DIR to one (for example /srv/polis/var)."
                )

    def _server_owner(self) -> pwd.struct_passwd | None:
        if not _running_as_root():
            return None
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise ClusterError(
                f"Running as root, Polis starts PostgreSQL as the '{SERVER_USER}' system user, "
                "which does not exist. Install Debian's server package ('apt-get install "
                "postgresql') which creates it, or run Polis as an ordinary user."
            ) from None

    def _initdb(self) -> None:
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                *([] if self.durable else ["--no-sync"]),
            ]
        )
        # Only local connections; trust is safe because the socket directory is private
        # to this machine and TCP, when asked for, binds to loopback only.

    def _clear_stale_lock(self) -> None:
        """Remove a postmaster.pid left by a server that no longer exists.

        PostgreSQL itself ignores a lock whose PID is gone, but refuses one whose PID was
        reused by another program (common after a reboot or in containers).
        """
        lock = self.data_dir / "postmaster.pid"
        try:
            first_line = lock.read_text().splitlines()[0]
            pid = int(first_line.strip())
        except (OSError, IndexError, ValueError):
            return
        if _pid_alive(pid) and _is_postgres_process(pid):
            raise ClusterError(
                f"Another PostgreSQL server (PID {pid}) holds {self.data_dir} but does not "
                f"answer. Stop it ('kill {pid}') and start Polis again."
            )
        lock.unlink(missing_ok=True)

    def _start(self) -> None:
        assert self.socket_dir is not None and self.log_file is not None
        options = [
            f"-c listen_addresses='{'127.0.0.1' if self.tcp_port else ''}'",
            f"-c port={self.tcp_port or self.port}",
            f"-c unix_socket_directories='{self.socket_dir}'",
            "-c max_connections=200",
        ]
        if self.tcp_port:
            # The socket name follows the port; keep our URL in step with it.
            self.port = self.tcp_port
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._run(
            [
                self._bin("pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
            ],
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(
                "PostgreSQL did not start. The end of its log "
                f"({self.log_file}):\n{self._log_tail()}\nFix the cause above and try again; "
                "the data directory was not changed."
            )
        self._started_here = True
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0, *, start_if_gone: bool = False) -> None:
        """Wait until the server accepts connections.

        With ``start_if_gone``, a server that exits meanwhile (the remains of a crashed
        one) is started again. A server still recovering answers "the database system
        is starting up" (or refuses) until its log is replayed; the error after
        ``timeout`` says so and where its log is, never a bare traceback.
        """
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(**self.libpq_kwargs(), connect_timeout=2):  # type: ignore[arg-type]
                    return
            except psycopg.OperationalError as exc:
                if start_if_gone and not self.is_running():
                    self._clear_stale_lock()
                    self._start()
                    return
                if time.monotonic() > deadline:
                    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                    raise ClusterError(
                        f"PostgreSQL runs but has not accepted connections for {timeout:.0f} s ({reason}). "
                        "After a crash it first replays its log, which can take minutes on a large "
                        f"database: wait and try again. The end of its log ({self.log_file}):\n"
                        f"{self._log_tail()}"
                    ) from exc
                time.sleep(0.2)

    def _log_tail(self, lines: int = 15) -> str:
        assert self.log_file is not None
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log was written)"
