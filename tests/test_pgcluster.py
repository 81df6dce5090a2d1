"""The embedded cluster: created once, reused, never re-initialised or damaged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.pgcluster import ClusterError, PgCluster


@pytest.fixture
def cluster_root() -> Iterator[Path]:
    # Not pytest's tmp_path: that lives under a private directory the postgres user
    # (who runs the server when we are root) cannot traverse.
    root = Path(tempfile.mkdtemp(prefix="polis-cluster-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_private_parent_directory_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root starts the server as another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(ClusterError, match="'postgres' system user cannot reach"):
        PgCluster(private / "var" / "pg").ensure_running()


def _rows(cluster: PgCluster) -> list[tuple[str]]:
    with psycopg.connect(**cluster.libpq_kwargs("polis")) as connection:
        return connection.execute("SELECT note FROM kept ORDER BY note").fetchall()


def test_second_start_reuses_the_data(cluster_root: Path) -> None:
    cluster = PgCluster(cluster_root / "pg", durable=False)
    cluster.ensure_running()
    cluster.ensure_database("polis")
    with psycopg.connect(**cluster.libpq_kwargs("polis")) as connection:
        connection.execute("CREATE TABLE kept (note text)")
        connection.execute("INSERT INTO kept VALUES ('first run')")
    identifier = (cluster_root / "pg" / "global" / "pg_control").read_bytes()[:8]
    cluster.stop()
    assert not cluster.is_running()

    again = PgCluster(cluster_root / "pg", durable=False)
    again.ensure_running()
    again.ensure_database("polis")  # exists: not recreated
    try:
        assert _rows(again) == [("first run",)]
        assert (cluster_root / "pg" / "global" / "pg_control").read_bytes()[:8] == identifier
        # Asking a running cluster to run is harmless and does not restart it.
        again.ensure_running()
        assert _rows(again) == [("first run",)]
    finally:
        again.stop()


def test_stale_lock_file_from_a_dead_server_is_cleared(cluster_root: Path) -> None:
    cluster = PgCluster(cluster_root / "pg", durable=True)
    cluster.ensure_running()
    cluster.ensure_database("polis")
    with psycopg.connect(**cluster.libpq_kwargs("polis")) as connection:
        connection.execute("CREATE TABLE kept (note text)")
        connection.execute("INSERT INTO kept VALUES ('before crash')")
    lock = cluster_root / "pg" / "postmaster.pid"
    cluster.stop(mode="immediate")  # a crash: no clean shutdown record
    # A lock whose PID now belongs to an unrelated live process (PID reuse after reboot).
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lines = ["0"] * 8
        lines[0] = str(sleeper.pid)
        lines[1] = str(cluster_root / "pg")
        lock.write_text("\n".join(lines) + "\n")
        restarted = PgCluster(cluster_root / "pg", durable=True)
        restarted.ensure_running()
        try:
            assert _rows(restarted) == [("before crash",)]
        finally:
            restarted.stop()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_foreign_directory_is_never_touched(cluster_root: Path) -> None:
    foreign = cluster_root / "pg"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("not a database")
    with pytest.raises(ClusterError, match="not empty but holds no PostgreSQL cluster"):
        PgCluster(foreign).ensure_running()
    assert (foreign / "thesis.txt").read_text() == "not a database"


def test_long_paths_get_a_short_socket_directory(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["deeply-nested-directory"] * 6, "pg")
    cluster = PgCluster(deep)
    assert cluster.socket_dir is not None
    assert len(str(cluster.socket_dir / ".s.PGSQL.5432")) < 107


def test_unwritable_var_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ClusterError, match=r"Cannot prepare .*set POLIS_VAR_DIR to a writable directory"):
        PgCluster(blocker / "pg").ensure_running()
    assert blocker.read_text() == "a file where a directory should be"
