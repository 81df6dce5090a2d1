"""The virus-scan hook: every uploaded file passes it before it is stored.

Production points ``POLIS_CLAMD_ADDRESS`` at a ClamAV daemon (``host:port`` or a Unix socket
path); files are streamed to it with the INSTREAM command. Unset, no scan is made (the start
log says so) — a municipality without ClamAV still gets type and size checks.
"""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO, Protocol

from core.errors import ServiceUnavailable

CHUNK = 64 * 1024


class Scanner(Protocol):
    """Checks a file; returns the name of what it found, or None when the file is clean."""

    def scan(self, stream: BinaryIO) -> str | None:
        """Scan ``stream`` from its current position to its end."""
        ...


class ScannerUnavailable(ServiceUnavailable):
    """The virus scanner did not answer: submissions wait rather than skip the check."""

    code = "virus_scanner_unavailable"


class ClamdScanner:
    """ClamAV's clamd over TCP or a Unix socket (the INSTREAM protocol)."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        if self.address.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: str | tuple[str, int] = self.address
        else:
            host, _, port = self.address.rpartition(":")
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            target = (host.strip("[]"), int(port))
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
        except OSError:
            sock.close()
            raise
        return sock

    def scan(self, stream: BinaryIO) -> str | None:
        """Stream the file to clamd; the name of the signature found, or None."""
        try:
            with self._connect() as sock:
                sock.sendall(b"zINSTREAM\0")
                while chunk := stream.read(CHUNK):
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
                answer = b""
                while not answer.endswith(b"\0"):
                    part = sock.recv(4096)
                    if not part:
                        break
                    answer += part
        except OSError as exc:
            raise ScannerUnavailable(
                f"The virus scanner at {self.address} does not answer ({exc}); try again in a few "
                "minutes. Administrators: check the clamd service."
            ) from None
        reply = answer.rstrip(b"\0").decode("utf-8", "replace").strip()
        if reply.endswith("FOUND"):
            return reply.removeprefix("stream:").removesuffix("FOUND").strip()
        if reply.endswith("OK"):
            return None
        raise ScannerUnavailable(f"The virus scanner answered {reply[:80]!r}; try again later.")


def scanner_for(address: str | None) -> Scanner | None:
    """The scanner the settings name, or None when scanning is off."""
    return ClamdScanner(address) if address else None
