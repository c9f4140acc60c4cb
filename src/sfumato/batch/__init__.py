"""``sfumato batch``: run a file of Leonardo requests against any Leonardo-compatible API.

One module per job: :mod:`~sfumato.batch.requests` reads the request file (or expands a
template over CSV rows), :mod:`~sfumato.batch.kinds` knows each kind's endpoints,
:mod:`~sfumato.batch.http` talks to the API (Idempotency-Key, 429s, backoff with jitter),
:mod:`~sfumato.batch.checkpoint` and :mod:`~sfumato.batch.manifest` are the two
append-only files that make a run resumable, :mod:`~sfumato.batch.completion` learns
when jobs end (a webhook receiver, or adaptive jittered polling),
:mod:`~sfumato.batch.downloads` stores the outputs, :mod:`~sfumato.batch.pricing` prices
a file before it runs, :mod:`~sfumato.batch.display` shows progress and
:mod:`~sfumato.batch.runner` joins them. The client speaks only the wire format, so it
needs nothing of the server but its URL and a key.
"""

from __future__ import annotations


class BatchError(Exception):
    """A problem the user can fix (a bad line, a corrupted checkpoint, a refused key); its
    message says what and where."""
