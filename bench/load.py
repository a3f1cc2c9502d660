"""A small closed-loop HTTP/1.1 load generator (keep-alive, raw asyncio streams).

Python-only so `make bench` needs nothing outside the project; it keeps per-request
client work tiny so that one core of load can saturate one uvicorn worker.
"""

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def _percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50_ms(self) -> float:
        return self._percentile(0.5)

    @property
    def p99_ms(self) -> float:
        return self._percentile(0.99)


async def _worker(
    host: str, port: int, raw: bytes, deadline: float, result: LoadResult, max_requests: int
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and result.requests < max_requests:
            sent = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split(b" ", 2)[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            if length:
                await reader.readexactly(length)
            result.requests += 1
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 400:
                result.errors += 1
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    seconds: float,
    connections: int,
    max_requests: int,
) -> LoadResult:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode()
    result = LoadResult(0, 0, 0.0, {})
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_worker(host, port, raw, deadline, result, max_requests) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - start
    return result


def run_load(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    seconds: float = 5.0,
    connections: int = 16,
    max_requests: int = 200_000,
) -> LoadResult:
    """Hammer GET `path` for `seconds` (bounded in time and count) and report the rate."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_run(host, port, path, headers or {}, seconds, connections, max_requests))
