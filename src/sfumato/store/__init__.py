"""Persistence: SQLAlchemy models, repositories, the job queue and Alembic migrations."""

from sfumato.store.database import Database

__all__ = ["Database"]
