"""Learning that a job has ended: from a webhook the run receives itself, or by polling.

Either way the job's own GET is the source of truth: a webhook only says "look now".
That keeps one reading of results for both modes (and for any Leonardo-compatible
server, whatever its event bodies hold), and makes a forged or replayed event harmless.

Leonardo's wire format has no per-request callback URL: webhooks go to the URL set on
the API key. So the receiver listens where the key's URL points (``--webhook-listen``),
and checks each POST with the key's secrets: sfumato's Standard Webhooks signature
(``--webhook-secret whsec_…``) and/or Leonardo's bearer callback key (``--webhook-key``).
Events for jobs of other runs are acknowledged and ignored. A job whose event never
comes is still looked at now and then (``fallback``), so a lost delivery costs time,
not the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sfumato.batch import BatchError
from sfumato.batch.backoff import PollSchedule
from sfumato.webhooks.signing import InvalidSignature, verify


class Completion:
    """How a job's waiter learns it is time to look at the job (again)."""

    async def wait(self, job_id: str, looks: int) -> None:
        """Return when job ``job_id`` should be read, having been read ``looks`` times."""
        raise NotImplementedError


@dataclass
class Polling(Completion):
    """Adaptive, jittered polling: fast early, slower later."""

    schedule: PollSchedule = field(default_factory=PollSchedule)

    async def wait(self, job_id: str, looks: int) -> None:
        await asyncio.sleep(self.schedule.wait(looks))


class _Server(uvicorn.Server):
    """uvicorn inside the batch's own event loop, leaving Ctrl-C to the batch."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Webhooks(Completion):
    """A receiver on ``host:port``: each job's event wakes that job's waiter."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secret: str | None = None,
        bearer: str | None = None,
        fallback: PollSchedule | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.secret, self.bearer = secret, bearer
        self.fallback = fallback or PollSchedule(start=30.0, factor=1.5, cap=300.0)
        self.received = 0  # events accepted (for the summary)
        self.refused = 0  # POSTs that failed the checks
        self._events: dict[str, asyncio.Event] = {}
        self.app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        config = uvicorn.Config(
            self.app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                raise BatchError(f"cannot listen for webhooks on {self.host}:{self.port} (is it in use?)")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(BaseException):
                await self._task

    async def wait(self, job_id: str, looks: int) -> None:
        event = self._events.setdefault(job_id, asyncio.Event())  # set already if the event came first
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self.fallback.wait(looks))
        event.clear()

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        if not self._trusted(request, body):
            self.refused += 1
            return JSONResponse({"error": "not signed by the expected key"}, status_code=401)
        try:
            event = json.loads(body)
            job_id = str(event["data"]["object"]["id"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "not a job event"}, status_code=400)
        self.received += 1
        self._events.setdefault(job_id, asyncio.Event()).set()
        return Response(status_code=204)

    def _trusted(self, request: Request, body: bytes) -> bool:
        if self.bearer is not None:
            expected = f"Bearer {self.bearer}"
            if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
                return False
        if self.secret is not None:
            try:
                verify(self.secret, dict(request.headers), body)
            except InvalidSignature:
                return False
        return True
