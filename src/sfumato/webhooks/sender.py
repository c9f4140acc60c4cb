"""The delivery loop: claim due events, POST them, record every attempt, retry with backoff.

A 2xx ends an event; a 410 disables the key's webhook (the receiver says it is gone);
anything else — another status, a timeout, a refused connection — schedules the next
attempt after an exponentially growing delay with jitter, until the attempts run out.
Every attempt is a row in ``webhook_attempts``. Delivery is at-least-once: a receiver
de-duplicates by the ``webhook-id`` header, which stays the same across retries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx

from sfumato import __version__
from sfumato.blobs import BlobStore
from sfumato.config import Settings
from sfumato.engine.catalog import Catalog
from sfumato.store import Database, commits
from sfumato.store import webhooks as store
from sfumato.store.clock import utcnow
from sfumato.webhooks import guard, payload, signing

log = logging.getLogger(__name__)

CLAIM_BATCH = 8
PARALLEL_SENDS = 4


@dataclass(frozen=True)
class Claimed:
    id: str
    url: str
    body: bytes
    attempt: int
    webhook_key: str | None
    webhook_secret: str | None
    event_type: str


@dataclass(frozen=True)
class Result:
    status: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False  # no retry can help (the URL itself is refused)

    @property
    def outcome(self) -> str:
        if self.status is not None and 200 <= self.status < 300:
            return "delivered"
        if self.status == 410:
            return "gone"
        return "refused" if self.permanent else "error" if self.status is None else "rejected"


def backoff(attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before attempt ``attempt + 1``: base·2^(attempt-1), capped, with half of it jittered."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rng() * delay / 2


class WebhookSender:
    def __init__(
        self,
        *,
        db: Database,
        blobs: BlobStore,
        catalog: Catalog,
        allow: guard.AllowList,
        timeout_seconds: float = 10.0,
        max_attempts: int = 15,
        backoff_seconds: float = 30.0,
        backoff_max_seconds: float = 3600.0,
        poll_seconds: float = 1.0,
        resolve: guard.Resolver = guard.system_resolver,
        on_attempt: Callable[[Result], None] | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.catalog = catalog
        self.allow = allow
        self.timeout = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.poll_seconds = poll_seconds
        self.resolve = resolve
        self.on_attempt = on_attempt
        # Not following redirects and ignoring proxy variables keeps every connection on
        # the address the guard checked.
        self._client = httpx.Client(follow_redirects=False, trust_env=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, db: Database, blobs: BlobStore, catalog: Catalog
    ) -> WebhookSender:
        from sfumato.observability.metrics import record_webhook_attempt

        return cls(
            db=db,
            blobs=blobs,
            catalog=catalog,
            allow=guard.AllowList.parse(settings.webhook_allow_hosts),
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            poll_seconds=settings.webhook_poll_seconds,
            on_attempt=lambda result: record_webhook_attempt(result.outcome),
        )

    # -- the loop -----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def start(self) -> None:
        """Deliver on a daemon thread until :meth:`close`; events of this process wake it at once."""
        self._unsubscribe = self.db.commits.subscribe(commits.WEBHOOKS, lambda _key: self.wake())
        self._thread = threading.Thread(target=self.run_forever, name="sfumato-webhooks", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._unsubscribe()
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run_forever(self) -> None:
        with ThreadPoolExecutor(PARALLEL_SENDS, thread_name_prefix="sfumato-webhook") as pool:
            while not self._stop.is_set():
                try:
                    sent = self.run_once(pool)
                except Exception:  # the database may be briefly unavailable; keep going
                    log.exception("webhook delivery round failed")
                    sent = 0
                if not sent:
                    self._wake.wait(self.poll_seconds)
                    self._wake.clear()
        self._client.close()

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Claim due events and attempt each once; how many were attempted."""
        claimed = self._claim()
        results = list(pool.map(self._send, claimed)) if pool else [self._send(c) for c in claimed]
        for item, result in zip(claimed, results, strict=True):
            self._record(item, result)
        return len(claimed)

    # -- steps --------------------------------------------------------------------------

    def _claim(self) -> list[Claimed]:
        lease = self.timeout * 2 + 30
        with self.db.transaction() as session:
            rows = store.claim_due(session, lease_seconds=lease, limit=CLAIM_BATCH)
            claimed = []
            for row in rows:
                if row.body is None:
                    row.body = payload.render(session, row, self.blobs, self.catalog)
                key = store.key_of(session, row.api_key_id)
                claimed.append(
                    Claimed(
                        id=row.id,
                        url=row.url,
                        body=row.body.encode(),
                        attempt=row.attempts,
                        webhook_key=key.webhook_key if key else None,
                        webhook_secret=key.webhook_secret if key else None,
                        event_type=row.event_type,
                    )
                )
            return claimed

    def _send(self, item: Claimed) -> Result:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target = guard.check(item.url, self.allow, self.resolve)
        except guard.UnsafeUrl as exc:
            return Result(None, f"refused: {exc}", elapsed(), permanent=True)
        headers = {
            "content-type": "application/json",
            "user-agent": f"sfumato-webhooks/{__version__}",
            "host": target.host_header,
        }
        if item.webhook_key:
            headers["authorization"] = f"Bearer {item.webhook_key}"
        if item.webhook_secret:
            headers.update(signing.headers(item.webhook_secret, item.id, item.body))
        else:
            headers.update({"webhook-id": item.id, "webhook-timestamp": str(int(time.time()))})
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            with self._client.stream(
                "POST",
                target.pinned_url,
                content=item.body,
                headers=headers,
                timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.timeout)),
                extensions=extensions,
            ) as response:
                status = response.status_code  # the body is not read: receivers need not send one
        except httpx.HTTPError as exc:
            return Result(None, f"{type(exc).__name__}: {exc}"[:500], elapsed())
        return Result(status, None if 200 <= status < 300 else f"HTTP {status}", elapsed())

    def _record(self, item: Claimed, result: Result) -> None:
        if self.on_attempt is not None:
            self.on_attempt(result)
        with self.db.transaction() as session:
            delivery = store.lock(session, item.id)
            if delivery is None or delivery.state != store.PENDING:
                return  # resent, disabled or deleted meanwhile
            store.record_attempt(
                session,
                delivery,
                status_code=result.status,
                error=result.error,
                duration_ms=result.duration_ms,
            )
            if result.outcome == "delivered":
                store.delivered(delivery)
            elif result.outcome == "gone":
                store.give_up(delivery, store.DISABLED)
                store.disable_key(session, delivery.api_key_id)
            elif result.permanent or delivery.attempts >= self.max_attempts:
                store.give_up(delivery)
            else:
                delay = backoff(delivery.attempts, base=self.backoff_seconds, cap=self.backoff_max_seconds)
                store.retry_at(delivery, utcnow() + timedelta(seconds=delay))
        log.info(
            "webhook %s attempt %d: %s",
            item.id,
            item.attempt,
            result.status if result.status is not None else result.error,
            extra={"event": "webhook_attempt", "outcome": result.outcome, "duration_ms": result.duration_ms},
        )
