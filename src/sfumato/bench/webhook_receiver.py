"""A webhook receiver for the benchmarks: clients that wait for sfumato's events instead of polling.

An asyncio HTTP server on loopback, in a thread of its own, that answers every POST with
200 and records the generation each event is about; :meth:`Receiver.wait` blocks until
given generations have all been reported complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator

from sfumato.bench.harness import free_port


class Receiver:
    """Generations reported by webhook so far, and the URL sfumato posts to."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/hook"
        self.port = port
        self.events = 0
        self._done: dict[str, str] = {}
        self._changed = threading.Condition()

    def wait(self, ids: list[str], tick: Callable[[], None], timeout: float = 600.0) -> None:
        """Block until every generation in ``ids`` is reported; ``tick`` once per one reported.
        A generation reported as failed raises."""
        waiting = set(ids)
        with self._changed:
            while waiting:
                arrived = waiting & self._done.keys()
                for generation_id in arrived:
                    if self._done[generation_id] != "COMPLETE":
                        raise RuntimeError(f"generation {generation_id} ended {self._done[generation_id]}")
                    tick()
                waiting -= arrived
                if waiting and not self._changed.wait(timeout):
                    raise RuntimeError(f"no webhook for {len(waiting)} generation(s) in {timeout:.0f}s")

    def _record(self, body: bytes) -> None:
        event = json.loads(body)
        subject = event.get("data", {}).get("object", {})
        status = "COMPLETE" if str(event.get("type", "")).endswith(".complete") else "FAILED"
        with self._changed:
            self.events += 1
            self._done[str(subject.get("id"))] = status
            self._changed.notify_all()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                self._record(await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    """A running :class:`Receiver` for the block."""
    hooks = Receiver(free_port())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(hooks._handle, "127.0.0.1", hooks.port)
        ready.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield hooks
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()
