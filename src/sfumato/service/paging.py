"""Cursor paging as Leonardo's GraphQL-style connections do it: first/after forward,
last/before backward, opaque cursors, and whether pages lie on either side."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sfumato.errors import InvalidRequest

T = TypeVar("T")
MOST = 100


@dataclass(frozen=True)
class Paging:
    first: int | None = None
    last: int | None = None
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next: bool
    has_previous: bool
    total: int

    @property
    def start_cursor(self) -> str | None:
        return self.items[0][0] if self.items else None

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][0] if self.items else None


def cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _key(value: str, name: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{name} is not a cursor this server gave") from None


def page(items: Sequence[T], key_of: Callable[[T], str], paging: Paging, *, default: int = 10) -> Page[T]:
    """The page of ``items`` (in their order) that ``paging`` asks for; a 400 for a cursor not
    among them or a size outside 1-100. ``last`` wins over ``first``: the SDK sends its default
    ``first`` (10) with every request, backward ones too."""
    for name, size in (("first", paging.first), ("last", paging.last)):
        if size is not None and not 1 <= size <= MOST:
            raise InvalidRequest(f"{name} must be between 1 and {MOST}")
    keys = [key_of(item) for item in items]
    start, end = 0, len(items)
    for name, value in (("after", paging.after), ("before", paging.before)):
        if value is None:
            continue
        wanted = _key(value, name)
        if wanted not in keys:
            raise InvalidRequest(f"{name} is not a cursor of this list")
        if name == "after":
            start = keys.index(wanted) + 1
        else:
            end = keys.index(wanted)
    if paging.last is not None:
        offset = max(start, end - paging.last)
    else:
        offset, end = start, min(end, start + (paging.first or default))
    chosen = range(offset, max(offset, end))
    return Page(
        items=[(cursor(keys[i]), items[i]) for i in chosen],
        has_next=chosen.stop < len(items),
        has_previous=offset > 0,
        total=len(items),
    )
