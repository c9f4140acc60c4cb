"""The in-process app of tests/api, for the training tests."""

from tests.api.conftest import api, backend_api

__all__ = ["api", "backend_api"]
