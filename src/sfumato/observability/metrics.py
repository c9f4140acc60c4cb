"""Prometheus metrics.

Two kinds. Process-local ones (request latency, job durations and outcomes, webhook
attempts) live in this process's registry and are observed where things happen. Shared
state (queue depth per lane, running jobs, webhook deliveries, credit totals) is read
from the database at scrape time, so any API node reports the same numbers for the whole
deployment. ``sfumato worker --metrics-port`` serves a worker's own process-local metrics.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from sfumato.store import Database
from sfumato.store.models import CreditEntry, Job, WebhookDelivery

REQUEST_SECONDS = Histogram(
    "sfumato_http_request_duration_seconds",
    "HTTP request latency by route template, method and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_SECONDS = Histogram(
    "sfumato_job_duration_seconds",
    "Time from claim to recorded end of a job's last attempt, by task and model.",
    ["task", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
JOB_OUTCOMES = Counter(
    "sfumato_job_outcomes", "Jobs that ended, by task, model and outcome.", ["task", "model", "outcome"]
)
WEBHOOK_ATTEMPTS = Counter("sfumato_webhook_attempts", "Webhook delivery attempts by outcome.", ["outcome"])
POLICY_REFUSALS = Counter(
    "sfumato_content_policy_refusals", "Requests the prompt policy refused, by category.", ["category"]
)
SAFETY_FLAGS = Counter(
    "sfumato_content_policy_flags",
    "Outputs the safety classifier flagged, by category and what was done (flag, blur, withhold).",
    ["category", "action"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def record_job_end(task: str, model: str, outcome: str, seconds: float | None) -> None:
    JOB_OUTCOMES.labels(task, model, outcome).inc()
    if seconds is not None:
        JOB_SECONDS.labels(task, model).observe(seconds)


def record_webhook_attempt(outcome: str) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome).inc()


def record_refusal(category: str) -> None:
    POLICY_REFUSALS.labels(category).inc()


def record_flag(category: str, action: str) -> None:
    SAFETY_FLAGS.labels(category, action).inc()


class DatabaseCollector(Collector):
    """Deployment-wide numbers, read from the database when Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "sfumato_queue_depth",
            "Queued jobs per lane (0 realtime, 1 interactive, 2 batch).",
            labels=["lane"],
        )
        running = GaugeMetricFamily("sfumato_jobs_running", "Jobs running now, by task.", labels=["task"])
        deliveries = GaugeMetricFamily(
            "sfumato_webhook_deliveries", "Webhook events by delivery state.", labels=["state"]
        )
        credits = CounterMetricFamily(
            "sfumato_credits", "Credits moved through the ledger, by entry kind.", labels=["kind"]
        )
        with self.db.read() as session:
            for lane, count in session.execute(
                select(Job.lane, func.count()).where(Job.state == "queued").group_by(Job.lane)
            ):
                depth.add_metric([str(lane)], count)
            for kind, count in session.execute(
                select(Job.kind, func.count()).where(Job.state == "running").group_by(Job.kind)
            ):
                running.add_metric([kind], count)
            for state, count in session.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ):
                deliveries.add_metric([state], count)
            for kind, total in session.execute(
                select(CreditEntry.kind, func.sum(func.abs(CreditEntry.amount))).group_by(CreditEntry.kind)
            ):
                credits.add_metric([kind], float(total or 0))
        yield from (depth, running, deliveries, credits)


def exposition(db: Database | None) -> bytes:
    """The text exposition of this process's metrics and, with ``db``, the deployment's."""
    text = generate_latest(REGISTRY)
    if db is not None:
        shared = CollectorRegistry(auto_describe=False)
        shared.register(DatabaseCollector(db))
        text += generate_latest(shared)
    return text
