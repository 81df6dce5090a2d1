"""Object-store throughput: upload and download MB/s per backend, next to a plain file copy.

Each figure is one JSON line; the baseline (``cp`` of the same file, with fsync) is measured in
the same run, so compare the ratios, not the absolute numbers. The S3 backend runs against
moto's S3 server in a separate process on 127.0.0.1 (MinIO cannot be installed here); set
POLIS_TEST_S3_ENDPOINT to measure a real MinIO instead.

    .venv/bin/python bench/storage.py [--size-mib 256]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.filesystem import FilesystemStore
from storage.s3 import S3Store


def emit(**figure: object) -> None:
    print(json.dumps(figure), flush=True)


def plain_copy_mb_s(source: Path, scratch: Path, size: int) -> float:
    target = scratch / "copy.bin"
    started = time.perf_counter()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1024 * 1024)
        writer.flush()
        os.fsync(writer.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return size / 1e6 / elapsed


def measure(store: object, source: Path, size: int) -> tuple[float, float]:
    started = time.perf_counter()
    with open(source, "rb") as reader:
        stored = store.put(reader, content_type="application/octet-stream")  # type: ignore[attr-defined]
    uploaded = time.perf_counter()
    with store.open(stored.key) as reader:  # type: ignore[attr-defined]
        reader.read_all_and_verify()
    downloaded = time.perf_counter()
    return size / 1e6 / (uploaded - started), size / 1e6 / (downloaded - uploaded)


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("moto's S3 server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    scratch = Path(tempfile.mkdtemp(prefix="polis-bench-storage-"))
    try:
        source = scratch / "source.bin"
        block = os.urandom(1024 * 1024)
        with open(source, "wb") as handle:
            for _ in range(args.size_mib):
                handle.write(block)
        baseline = plain_copy_mb_s(source, scratch, size)
        backends: list[tuple[str, object]] = [
            ("filesystem", FilesystemStore(scratch / "objects", secret="bench", base_url="http://bench"))
        ]
        moto = None
        endpoint = os.environ.get("POLIS_TEST_S3_ENDPOINT")
        if endpoint:
            backends.append(
                (
                    "s3 (MinIO)",
                    S3Store(
                        endpoint=endpoint,
                        access_key=os.environ.get("POLIS_TEST_S3_ACCESS_KEY", "minioadmin"),
                        secret_key=os.environ.get("POLIS_TEST_S3_SECRET_KEY", "minioadmin"),
                        bucket="polis-bench",
                        secure=False,
                    ),
                )
            )
        else:
            moto, endpoint = start_moto()
            backends.append(
                (
                    "s3 (moto server)",
                    S3Store(
                        endpoint=endpoint, access_key="b", secret_key="b", bucket="polis-bench", secure=False
                    ),
                )
            )
        try:
            for name, store in backends:
                upload, download = measure(store, source, size)
                for direction, value in (("upload", upload), ("download", download)):
                    emit(
                        name=f"storage {direction}",
                        backend=name,
                        value=round(value, 1),
                        unit="MB/s",
                        baseline="plain file copy with fsync",
                        baseline_value=round(baseline, 1),
                        ratio=round(value / baseline, 3),
                        size_mib=args.size_mib,
                    )
        finally:
            if moto is not None:
                moto.terminate()
                moto.wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
