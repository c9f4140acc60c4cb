"""The API as the batch sees it: JSON requests with retries, and file downloads.

One ``httpx.AsyncClient`` for the whole run. What is retried, and how:

* ``429``: after the server's ``Retry-After`` (every request of the run waits, see
  :class:`~sfumato.batch.backoff.RateGate`), or exponential backoff with jitter when it
  gives none; as often as it takes, since the server is only asking for patience.
* network errors, ``408``, ``5xx``, and a ``409`` that says the same Idempotency-Key is
  still in progress: exponential backoff with jitter, up to ``retries`` times. A creating
  POST carries an Idempotency-Key, so repeating it never makes a second job.
* any other ``4xx``: not retried; :class:`ApiError` carries the server's message.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sfumato.batch.backoff import RateGate, backoff_seconds, retry_after_seconds

API_PATH = "/api/rest/v1"
REUSED_KEY = "idempotency-key-reused"


class ApiError(Exception):
    """The server refused a request for a reason retrying will not change."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Counters:
    """What the run has seen of the server, for the display and the summary."""

    requests: int = 0
    rate_limited: int = 0
    retried: int = 0


def api_base(url: str) -> str:
    """The API base: Leonardo's (``…/api/rest/v1``) as given, or a server root with it added."""
    url = url.rstrip("/")
    return url if url.endswith(API_PATH) or httpx.URL(url).path not in ("", "/") else url + API_PATH


class Api:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: httpx.AsyncClient,
        gate: RateGate | None = None,
        retries: int = 8,
        on_wait: Callable[[str, float], None] = lambda why, seconds: None,
    ) -> None:
        self.base = api_base(base_url)
        self.headers = {"authorization": f"Bearer {api_key}", "accept": "application/json"}
        self.client = client
        self.gate = gate or RateGate()
        self.retries = retries
        self.counters = Counters()
        self.on_wait = on_wait

    async def post(self, path: str, body: dict[str, Any], *, idempotency_key: str | None = None) -> Any:
        headers = dict(self.headers)
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        return await self._json("POST", self.base + path, headers=headers, json=body)

    async def get(self, path: str) -> Any:
        return await self._json("GET", self.base + path, headers=self.headers)

    async def download(self, url: str, target: Path) -> tuple[int, str]:
        """Store ``url`` at ``target`` (whole or not at all); its size and SHA-256. No
        Authorization header: output URLs are signed or public, and may be another host's."""

        async def fetch() -> tuple[int, str]:
            partial = target.with_name(target.name + ".part")
            digest, size = hashlib.sha256(), 0
            async with self.client.stream("GET", url) as response:
                await self._raise_for(response)
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            os.replace(partial, target)
            return size, digest.hexdigest()

        return await self._with_retries(fetch)

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        async def send() -> Any:
            response = await self.client.request(method, url, **kwargs)
            await self._raise_for(response)
            return response.json()

        return await self._with_retries(send)

    async def _raise_for(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        await response.aread()
        status = response.status_code
        try:
            error = response.json()
            code, message = str(error.get("code", "")), str(error.get("error", response.text))
        except ValueError:
            code, message = "", response.text[:300]
        if status == 429:
            raise _RateLimited(retry_after_seconds(response.headers.get("retry-after")))
        if status in (408, 500, 502, 503, 504) or (status == 409 and code != REUSED_KEY):
            raise _Transient(f"{status} {code}: {message}")
        raise ApiError(status, code or "error", message)

    async def _with_retries(self, attempt: Callable[[], Any]) -> Any:
        failures = limited = 0
        while True:
            await self.gate.wait()
            self.counters.requests += 1
            try:
                return await attempt()
            except _RateLimited as exc:
                self.counters.rate_limited += 1
                if exc.seconds is not None:
                    self.gate.hold(exc.seconds)
                    self.on_wait("rate limited", exc.seconds)
                else:
                    await asyncio.sleep(backoff_seconds(limited))
                limited += 1
            except (_Transient, httpx.TransportError) as exc:
                if failures >= self.retries:
                    raise ApiError(0, "unreachable", f"gave up after {failures + 1} tries: {exc}") from exc
                self.counters.retried += 1
                delay = backoff_seconds(failures)
                self.on_wait(str(exc) or type(exc).__name__, delay)
                await asyncio.sleep(delay)
                failures += 1


class _RateLimited(Exception):
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds


class _Transient(Exception):
    pass
