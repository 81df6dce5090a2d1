"""Run in a child process by test_streaming.py: upload then download SIZE bytes through a
store, never holding them, and print the child's peak memory (RSS) as JSON."""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from pathlib import Path

BLOCK = bytes(range(256)) * 4096  # 1 MiB


class Generated:
    """SIZE bytes produced on demand: the source file never exists in memory or on disk."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        n = len(BLOCK) if n < 0 else min(n, len(BLOCK))
        data = BLOCK[: min(n, self.remaining)]
        self.remaining -= len(data)
        self.hash.update(data)
        return data


def peak_rss_kib() -> int:
    """This process's peak resident memory. Not getrusage(): Linux carries ru_maxrss over
    exec from the parent, so a child of a large test process would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    kind, target, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "filesystem":
        from storage.filesystem import FilesystemStore

        store = FilesystemStore(Path(target), secret="s", base_url="http://polis.test")
    else:
        from storage.s3 import S3Store

        store = S3Store(
            endpoint=target, access_key="test", secret_key="test", bucket="streaming", secure=False
        )
    source = Generated(size)
    started = time.perf_counter()
    stored = store.put(source, content_type="application/octet-stream")  # type: ignore[arg-type]
    uploaded = time.perf_counter()
    with store.open(stored.key) as reader:
        read = reader.read_all_and_verify()
    downloaded = time.perf_counter()
    peak_kib = peak_rss_kib()
    print(
        json.dumps(
            {
                "size": stored.size,
                "read": read,
                "sha_ok": stored.sha256 == source.hash.hexdigest(),
                "peak_rss_mib": peak_kib / 1024,
                "upload_s": uploaded - started,
                "download_s": downloaded - uploaded,
            }
        )
    )


if __name__ == "__main__":
    main()
