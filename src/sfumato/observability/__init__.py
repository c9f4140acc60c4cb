"""Observability: structured JSON logs (``logs``) and Prometheus metrics (``metrics``)."""
