"""Webhooks: an outbox written with each job's end, delivered by a background sender.

``outbox`` records events inside the job's completing transaction; ``sender`` delivers
them with retries (exponential backoff and jitter), Standard-Webhooks signatures
(``signing``) and an SSRF guard (``guard``); ``payload`` renders Leonardo's envelope.
"""
