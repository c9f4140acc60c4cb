"""The benchmarks' lean client: a waiting caller's connection survives the server closing it."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from sfumato.bench.load_generator import BlockingConnection, get_request


class _OneAnswerPerConnection(socketserver.StreamRequestHandler):
    """Answers one request with the number of connections so far, then closes the connection,
    as a server does with a keep-alive connection left idle too long."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        server: _Server = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
            body = str(server.connections).encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        server.closed.set()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    connections = 0
    lock = threading.Lock()
    closed = threading.Event()


@pytest.fixture
def server() -> Iterator[_Server]:
    with _Server(("127.0.0.1", 0), _OneAnswerPerConnection) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server
        server.shutdown()


def test_a_connection_the_server_closed_is_opened_again(server: _Server) -> None:
    port = server.server_address[1]
    connection = BlockingConnection(port)
    answers = []
    try:
        for _ in range(3):
            answers.append(connection.send(get_request(port, "/healthz")))
            assert server.closed.wait(10)
            server.closed.clear()
    finally:
        connection.close()
    assert answers == [(200, b"1"), (200, b"2"), (200, b"3")]
