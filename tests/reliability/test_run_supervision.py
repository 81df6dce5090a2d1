"""`polis run` restarts a killed worker and a killed web server, and says which and that it did."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.reliability.polis_process import PolisRun

pytestmark = pytest.mark.slow


def test_polis_run_restarts_a_killed_worker_and_a_killed_web_server() -> None:
    polis = PolisRun()
    try:
        polis.wait_for_line(r"web server pid \d+, worker pid \d+", 150)
        pids = polis.pids()
        assert set(pids) == {"web server", "worker"}, polis.log()

        seen = len(polis.lines)
        os.kill(pids["worker"], signal.SIGKILL)
        polis.wait_for_line(
            rf"the worker \(pid {pids['worker']}\) was killed by SIGKILL; restarting it", 15, seen
        )
        polis.wait_for_line(r"restarted the worker \(now pid \d+", 30, seen)
        assert polis.pids()["worker"] != pids["worker"]

        seen = len(polis.lines)
        killed = time.monotonic()
        os.kill(pids["web server"], signal.SIGKILL)  # the gunicorn master; its workers linger
        polis.wait_for_line(rf"the web server \(pid {pids['web server']}\) was killed by SIGKILL", 15, seen)
        polis.wait_for_line(r"restarted the web server \(now pid \d+", 60, seen)
        polis.wait_healthy(60)
        print(f"web back {time.monotonic() - killed:.1f} s after kill -9 of its master")
        assert polis.process.poll() is None  # nothing else was stopped
    finally:
        code = polis.stop()
    assert code == 0, polis.log()
