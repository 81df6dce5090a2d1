"""The web server's configuration, measured with the real gunicorn (issue 13 items 3 and 7)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli.main  # noqa: F401 - cli.run is imported through the CLI package (circular otherwise)
from cli.run import gunicorn_command
from core.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    port = _free_port()
    settings = Settings(env="test", var_dir=tmp_path, bind=f"127.0.0.1:{port}", web_workers=1, web_threads=4)
    command = gunicorn_command(settings)
    command[-1] = "tests.web.slow_wsgi:app"
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _get(base + "/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base, command
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_one_worker_stays_responsive_while_slow_requests_run(server: tuple[str, list[str]]) -> None:
    base, command = server
    assert command[command.index("--worker-class") + 1] == "gthread"
    slow = [threading.Thread(target=_get, args=(base + "/slow",)) for _ in range(2)]
    for thread in slow:
        thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    status, _ = _get(base + "/healthz")
    fast = time.monotonic() - started
    for thread in slow:
        thread.join()
    # With one sync worker this waited for both slow requests (6 s).
    assert status == 200 and fast < 1.0, fast


def test_a_10_kb_url_reaches_the_app(server: tuple[str, list[str]]) -> None:
    base, _ = server
    status, body = _get(base + "/?q=" + "a" * 10_240)
    # Not gunicorn's own HTML 414: the app answers (and Polis refuses it with its JSON error).
    assert status == 200 and body == b"10242"


def test_the_access_log_masks_codes_and_tokens(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = server
    _get(base + "/track/SECRET-TRACKING-CODE")
    _get(base + "/citizen/reset?token=SECRET-RESET-TOKEN&lang=el")
    _get(base + "/api/v1/protocol/receipts/SECRET-RECEIPT-TOKEN")
    time.sleep(0.5)  # the access log line is written after the answer
    log = (tmp_path / "gunicorn.log").read_text()
    assert "/track/***" in log and "token=***" in log and "/receipts/***" in log, log[-2000:]
    assert "SECRET" not in log
