"""Small helpers for the pure-ASGI middlewares, which run on every request."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Message, Receive, Scope, Send


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case, as ASGI servers give names)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive) -> bytes:
    """The request's whole body (empty when the connection ends first)."""
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an application after ``body`` was read here: that body, then the
    connection's own messages (a streamed answer listens for the client's disconnect, which
    must not be reported before it happens)."""
    replayed = False

    async def receive_body() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_body


async def send_json(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with ``body``, JSON already encoded, and ``headers`` besides its type and length."""
    head = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
