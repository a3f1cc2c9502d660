"""A minimal client of the ClamAV daemon (clamd INSTREAM over TCP)."""

import socket
import struct
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    detail: str


class ScannerUnavailable(Exception):
    """clamd could not be reached or answered nonsense: the file stays pending."""


def scan_bytes(address: str, content: bytes, timeout: float) -> ScanResult:
    """Ask clamd at `host:port` whether `content` is clean."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout) as sock:
            sock.sendall(b"zINSTREAM\0")
            for start in range(0, len(content), CHUNK):
                chunk = content[start : start + CHUNK]
                sock.sendall(struct.pack("!I", len(chunk)) + chunk)
            sock.sendall(struct.pack("!I", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
    except (OSError, ValueError) as exc:
        raise ScannerUnavailable(str(exc)) from exc
    answer = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
    if answer.endswith("OK"):
        return ScanResult(True, "OK")
    if answer.endswith("FOUND"):
        return ScanResult(False, answer.split(":", 1)[-1].strip()[:200])
    raise ScannerUnavailable(f"unexpected reply: {answer[:100]}")
