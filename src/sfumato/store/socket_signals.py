"""Commit signals between the processes that share one SQLite file: a datagram socket each.

PostgreSQL carries commit signals between processes itself (``NOTIFY``); SQLite has nothing
like it. Processes that share a SQLite file share a machine, though, so each process that
listens binds a Unix datagram socket in a directory beside the file (``sfumato.db.signals``,
or one under the temporary directory when that path would be too long for a socket), and a
process that commits sends what it announced to every socket there but its own. A datagram
that finds no one bound (its process died) removes that socket's file.

As with ``NOTIFY``, a signal only says "look again": waiters still look now and then, so a
datagram that is lost (a receiver whose queue is full) costs a poll interval, never a job.
A signal travels as a line ``topic<TAB>key``; one datagram carries a commit's signals.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

SUFFIX = ".sock"
_NAME_CHARS = 24  # the longest socket name: "<pid>-<8 hex>.sock"
_PATH_BYTES = 104  # the longest socket path every POSIX kernel binds (Linux allows 107)
_RESCAN_SECONDS = 1.0  # a directory's listing is trusted this long while its mtime stays put
_RECEIVE_BYTES = 65_536
ANY = ""

Signal = tuple[str, str]  # (topic, key)


def directory_for(url: str) -> Path | None:
    """Where the sockets of the processes sharing the SQLite file of ``url`` live; None for
    a database that no other process can open (in memory) or a platform without Unix sockets."""
    parsed = make_url(url)
    database = parsed.database
    if not hasattr(socket, "AF_UNIX") or not parsed.drivername.startswith("sqlite"):
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    real = Path(os.path.realpath(database))
    beside = real.with_name(real.name + ".signals")
    if len(os.fsencode(beside)) + 1 + _NAME_CHARS <= _PATH_BYTES:
        return beside
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sfumato-signals-{digest}"


def encode(signals: Iterable[Signal]) -> bytes:
    return "\n".join(f"{topic}\t{key}" for topic, key in signals).encode()


def decode(datagram: bytes) -> list[Signal]:
    signals = []
    for line in datagram.decode(errors="replace").splitlines():
        topic, _, key = line.partition("\t")
        signals.append((topic, key))
    return signals


class Peers:
    """Sends a commit's signals to the listening processes of one directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._paths: tuple[str, ...] = ()
        self._mtime = -1
        self._listed_at = -_RESCAN_SECONDS

    def send(self, signals: Iterable[Signal], *, exclude: str | None = None) -> None:
        """Send ``signals`` to every listening socket but ``exclude`` (the sender's own)."""
        paths = self._listening()
        if not paths or (len(paths) == 1 and paths[0] == exclude):
            return
        datagram = encode(signals)
        for path in paths:
            if path == exclude:
                continue
            try:
                self._socket.sendto(datagram, path)
            except (ConnectionRefusedError, FileNotFoundError):
                self._forget(path)  # its process is gone
            except BlockingIOError:
                pass  # its queue is full: it has signals to read already and will look again
            except OSError as exc:
                log.debug("could not signal %s: %s", path, exc)

    def close(self) -> None:
        self._socket.close()

    def _listening(self) -> tuple[str, ...]:
        try:
            mtime = os.stat(self._directory).st_mtime_ns
        except FileNotFoundError:
            return ()
        now = time.monotonic()
        if mtime != self._mtime or now - self._listed_at >= _RESCAN_SECONDS:
            with contextlib.suppress(FileNotFoundError):
                self._paths = tuple(
                    entry.path for entry in os.scandir(self._directory) if entry.name.endswith(SUFFIX)
                )
            self._mtime, self._listed_at = mtime, now
        return self._paths

    def _forget(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._paths = tuple(p for p in self._paths if p != path)


class SocketListener:
    """Calls ``on_signal(topic, key)`` for each signal another process sends, on a thread of
    its own; on starting, ``on_signal(topic, "")`` for each of ``topics`` (look again: what
    was sent before it listened went nowhere). The same interface as ``NotifyListener``."""

    def __init__(self, directory: Path, topics: Sequence[str], on_signal: Callable[[str, str], None]) -> None:
        self._directory = directory
        self._topics = tuple(topics)
        self._on_signal = on_signal
        self._stop = threading.Event()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._thread = threading.Thread(target=self._run, name="signal-listener", daemon=True)
        self.path = str(directory / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}")
        self.listening = threading.Event()

    def start(self) -> SocketListener:
        try:
            self._directory.mkdir(mode=0o700, exist_ok=True)
            self._socket.bind(self.path)
        except OSError:
            self._socket.close()
            raise
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wake the receiving thread
            self._socket.sendto(b"", self.path)
        self._thread.join(timeout=5)
        self._socket.close()
        self.listening.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _run(self) -> None:
        self.listening.set()
        for topic in self._topics:
            self._on_signal(topic, ANY)
        while not self._stop.is_set():
            try:
                datagram = self._socket.recv(_RECEIVE_BYTES)
            except OSError as exc:
                log.warning("the commit-signal socket failed (%s); polling instead", exc)
                self.listening.clear()
                return
            for topic, key in decode(datagram):
                self._on_signal(topic, key)
