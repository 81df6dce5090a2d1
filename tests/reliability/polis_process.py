"""`polis run` started in a temporary directory, its output read line by line (for kill tests)."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from core.database import embedded_cluster
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PolisRun:
    """One `polis run` with its own var directory, port and log."""

    def __init__(self, **extra_env: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="polis-kill-"))
        os.chmod(self.root, 0o755)  # the embedded PostgreSQL runs as postgres when we are root
        self.var_dir = self.root / "var"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "PYTHONPATH": str(ROOT),
            "POLIS_VAR_DIR": str(self.var_dir),
            "POLIS_BIND": f"127.0.0.1:{self.port}",
            "POLIS_SIGNING_DEMO_PKI_PORT": str(free_port()),
            **extra_env,
        }
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first line matching ``pattern`` (from line ``after`` on), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                match = re.search(pattern, line)
                if match:
                    return match
            if self.process.poll() is not None:
                raise AssertionError(f"polis run exited ({self.process.returncode}):\n" + self.log())
            time.sleep(0.2)
        raise AssertionError(f"no line like {pattern!r} within {timeout} s:\n" + self.log())

    def log(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def health(self) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=3) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:
            return 0, str(exc)

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until /healthz answers 200."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.health()[0] == 200:
                return time.monotonic() - began
            time.sleep(0.3)
        raise AssertionError(f"not healthy within {timeout} s: {self.health()}\n" + self.log())

    def pids(self) -> dict[str, int]:
        """The pids `polis run` announced most recently for each child."""
        found: dict[str, int] = {}
        for line in self.lines:
            for name, pid in re.findall(r"(web server|worker) pid (\d+)", line):
                found[name] = int(pid)
            restarted = re.search(r"restarted the (web server|worker) \(now pid (\d+)", line)
            if restarted:
                found[restarted.group(1)] = int(restarted.group(2))
        return found

    def database_url(self) -> str:
        cluster = embedded_cluster(Settings(var_dir=self.var_dir))
        return cluster.url("polis")

    def postmaster_pid(self) -> int:
        lock = self.var_dir / "pg" / "postmaster.pid"
        return int(lock.read_text().splitlines()[0])

    def stop(self) -> int:
        """SIGTERM, wait, and clean up everything (also after a failure)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        cluster = embedded_cluster(Settings(var_dir=self.var_dir))
        try:
            if cluster.is_running():
                cluster.stop(mode="immediate")
        except Exception:  # noqa: S110 - best effort in a test's cleanup
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # any leftover child of its session
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)
        return self.process.returncode
