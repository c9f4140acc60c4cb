"""The benchmarks' lean HTTP load generator: closed loop (:func:`run_load`) or paced, open
loop (:func:`run_paced`), over keep-alive connections to servers on loopback; and
:class:`BlockingConnection`, for a benchmark that times one request at a time.

It speaks HTTP/1.1 over raw asyncio streams (or a socket), with every request's bytes built
before the clock starts: on a two-core machine a full HTTP client in the same process would
spend more CPU than the server under test and the benchmark would measure the client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


def post_request(port: int, path: str, body: dict[str, Any], key: str) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def get_request(port: int, path: str, key: str | None = None) -> bytes:
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole answer, in turn."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = _content_length(head)
        body = await self._reader.readexactly(length) if length else b""
        return int(head[9:12]), body

    def close(self) -> None:
        self._writer.close()


class BlockingConnection:
    """:class:`Connection` for a caller that waits: a keep-alive connection over a socket,
    opened again when the server closed it while it was idle."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._open()

    def _open(self) -> None:
        self._socket = socket.create_connection(("127.0.0.1", self._port))
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self._socket.makefile("rb")

    def _closed_by_server(self) -> bool:
        try:
            return self._socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # open, nothing to read: as it should be between requests

    def send(self, request: bytes) -> tuple[int, bytes]:
        if self._closed_by_server():
            self.close()
            self._open()
        self._socket.sendall(request)
        lines = [self._reader.readline()]
        while lines[-1] not in (b"\r\n", b""):
            lines.append(self._reader.readline())
        head = b"".join(lines)
        length = _content_length(head)
        body = self._reader.read(length) if length else b""
        return int(head[9:12]), body

    def close(self) -> None:
        self._reader.close()
        self._socket.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


def run_async(main: Any) -> Any:
    """Run a coroutine on uvloop where installed (leaner per request), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def record(self, status: int, *, since: float) -> None:
        """One answer with ``status``, its latency counted from ``since`` (a perf_counter time)."""
        self.latencies.append(time.perf_counter() - since)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def _connection(port: int, requests: list[bytes], result: LoadResult, tick: Any) -> None:
    connection = await Connection.open(port)
    try:
        for request in requests:
            started = time.perf_counter()
            status, _ = await connection.send(request)
            result.record(status, since=started)
            tick()
    finally:
        connection.close()


def run_load(
    ports: list[int], requests: list[bytes], concurrency: int, tick: Any = lambda: None
) -> LoadResult:
    """Send ``requests`` over ``concurrency`` keep-alive connections spread over the servers at
    ``ports``, each connection waiting for one answer before sending its next request."""
    shares = [requests[i::concurrency] for i in range(concurrency)]
    result = LoadResult(seconds=0.0)

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(
            *(_connection(ports[i % len(ports)], share, result, tick) for i, share in enumerate(shares))
        )
        result.seconds = time.perf_counter() - started

    run_async(main())
    return result


def run_paced(
    ports: list[int], requests: list[bytes], rate: float, connections: int, tick: Any = lambda: None
) -> LoadResult:
    """Offer ``requests`` at ``rate`` per second, open loop, over up to ``connections``
    keep-alive connections spread over the servers at ``ports``.

    Each request is due at its scheduled time whether or not earlier ones have been
    answered, and its latency counts from that time: waiting for a free connection counts
    too, so a server that falls behind shows it in the percentiles instead of slowing the
    offered load down (no coordinated omission).
    """
    result = LoadResult(seconds=0.0)

    async def main() -> None:
        due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def sender(port: int) -> None:
            connection = await Connection.open(port)
            try:
                while (item := await due.get()) is not None:
                    scheduled, request = item
                    status, _ = await connection.send(request)
                    result.record(status, since=scheduled)
                    tick()
            finally:
                connection.close()

        senders = [asyncio.create_task(sender(ports[i % len(ports)])) for i in range(connections)]
        started = time.perf_counter()
        for index, request in enumerate(requests):
            scheduled = started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait((scheduled, request))
        for _ in senders:
            due.put_nowait(None)
        await asyncio.gather(*senders)
        result.seconds = time.perf_counter() - started

    run_async(main())
    return result
