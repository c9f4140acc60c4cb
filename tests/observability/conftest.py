"""The in-process app of the API tests, for requests whose logs and metrics are inspected here."""

from tests.api.conftest import api  # noqa: F401  (a fixture, used by name)
