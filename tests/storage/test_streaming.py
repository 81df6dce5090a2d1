"""A 1 GiB file goes through each store in a child process whose memory stays under 100 MiB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GIB = 1024**3
MEMORY_BOUND_MIB = 100
ROOT = Path(__file__).resolve().parents[2]


def _stream(kind: str, target: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("stream_child.py")), kind, target, str(GIB)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=900,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_one_gibibyte_through_the_filesystem_store_in_bounded_memory(tmp_path):
    report = _stream("filesystem", str(tmp_path / "objects"))
    assert report["size"] == report["read"] == GIB
    assert report["sha_ok"]
    assert report["peak_rss_mib"] < MEMORY_BOUND_MIB, report


@pytest.mark.slow
def test_one_gibibyte_through_the_s3_store_in_bounded_memory(moto_endpoint):
    report = _stream("s3", moto_endpoint)
    assert report["size"] == report["read"] == GIB
    assert report["sha_ok"]
    assert report["peak_rss_mib"] < MEMORY_BOUND_MIB, report
