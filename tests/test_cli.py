"""The ``polis`` command as an operator meets it: real processes, real cluster, clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.database import embedded_cluster
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
POLIS = [sys.executable, "-m", "cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def var_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="polis-cli-"))
    os.chmod(root, 0o755)
    yield root / "var"
    cluster = embedded_cluster(Settings(var_dir=root / "var"))
    if cluster.is_running():
        cluster.stop(mode="immediate")
    shutil.rmtree(root, ignore_errors=True)


def polis(*args: str, var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(ROOT),
        "POLIS_VAR_DIR": str(var_dir),
        **env,
    }
    return subprocess.run(
        [*POLIS, *args], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=300, check=False
    )


@pytest.mark.slow
def test_run_twice_reuses_the_same_data(var_dir: Path) -> None:
    bind = f"127.0.0.1:{_free_port()}"
    first = polis("run", "--check-only", var_dir=var_dir, POLIS_BIND=bind)
    assert first.returncode == 0, first.stderr
    assert f"Polis is running: http://{bind}" in first.stdout
    assert "proistamenos" in first.stdout and "polis-demo" in first.stdout
    assert "document_approval v1" in first.stdout

    # Leave a mark in the database between the runs.
    cluster = embedded_cluster(Settings(var_dir=var_dir))
    cluster.ensure_running()
    with psycopg.connect(**cluster.libpq_kwargs("polis")) as connection:
        connection.execute("UPDATE users SET full_name = 'Σημάδι' WHERE username = 'admin'")
    cluster.stop()
    control = (var_dir / "pg" / "global" / "pg_control").read_bytes()[:8]

    second = polis("run", "--check-only", var_dir=var_dir, POLIS_BIND=bind)
    assert second.returncode == 0, second.stderr
    assert (var_dir / "pg" / "global" / "pg_control").read_bytes()[:8] == control  # not re-initialised
    cluster.ensure_running()
    with psycopg.connect(**cluster.libpq_kwargs("polis")) as connection:
        assert connection.execute("SELECT full_name FROM users WHERE username = 'admin'").fetchone() == (
            "Σημάδι",
        )
        # The demo chart's nine units (engine/people/demo_municipality.csv), not duplicated.
        assert connection.execute("SELECT count(*) FROM departments").fetchone() == (9,)
    cluster.stop()


def test_port_in_use_is_one_clear_message(var_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = polis("run", "--check-only", var_dir=var_dir, POLIS_BIND=f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"POLIS_BIND=127.0.0.1:{port + 1}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (var_dir / "pg").exists()  # gave up before touching anything


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("POLIS_STORAGE_URL", "s3://nobucket", "POLIS_STORAGE_URL must name a host and one bucket"),
        ("POLIS_STORAGE_URL", "ftp://files", "POLIS_STORAGE_URL: must start with file:// or s3://"),
        ("POLIS_STORAGE_URL", "s3://k:s@127.0.0.1:9/bucket?secure=false", "Cannot reach the S3 server"),
        ("POLIS_BIND", "everywhere", "POLIS_BIND: must be host:port"),
        ("POLIS_DATABSE_URL", "x", "Did you mean POLIS_DATABASE_URL?"),
    ],
)
def test_bad_settings_end_with_one_message(var_dir: Path, variable: str, value: str, expected: str) -> None:
    env = {"POLIS_BIND": f"127.0.0.1:{_free_port()}", variable: value}
    result = polis("run", "--check-only", var_dir=var_dir, **env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_message(var_dir: Path, tmp_path: Path) -> None:
    result = polis(
        "db",
        "upgrade",
        var_dir=var_dir,
        POLIS_DATABASE_URL=f"postgresql://polis@/polis?host={tmp_path}/nowhere&connect_timeout=2",
    )
    assert result.returncode == 1
    assert "Cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_read_only_var_directory_is_one_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("not a directory")
    result = polis("db", "start", var_dir=blocker)
    assert result.returncode == 1
    assert "writable" in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text() == "not a directory"


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_everything_cleanly_on_a_signal(var_dir: Path, stop_signal: int) -> None:
    port = _free_port()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(ROOT),
        "POLIS_VAR_DIR": str(var_dir),
        "POLIS_BIND": f"127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [*POLIS, "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("polis run did not become healthy")
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "PostgreSQL stopped." in output
    assert not embedded_cluster(Settings(var_dir=var_dir)).is_running()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
