"""Who is calling: an ``Authorization: Bearer`` API key, or the studio's session cookie.

Both the auth gate (before the body is read) and the route dependency (for routes outside
the gated prefixes) ask here, so the API has one notion of a caller. A request that
carries a key is judged by the key alone; the cookie is looked at only when there is no
``Authorization`` header, and then a request that changes anything must also send the
session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import Scope

from sfumato.api.asgi import header
from sfumato.service import studio_sessions
from sfumato.service.context import Context
from sfumato.service.keys import Principal, authenticate, recently_authenticated

SESSION_COOKIE = "sfumato_studio"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(scope: Scope) -> str | None:
    """The studio session token from the request's cookies, if any (parsed leniently, as
    browsers do: another site's odd cookie on the same host does not hide ours)."""
    raw = header(scope, b"cookie")
    if not raw:
        return None
    return cookie_parser(raw).get(SESSION_COOKIE) or None


async def principal_of(ctx: Context, scope: Scope) -> Principal:
    """The caller, or :class:`~sfumato.errors.Unauthorized` / ``Forbidden`` (a missing CSRF token)."""
    authorization = header(scope, b"authorization")
    token = None if authorization else session_token(scope)
    if token is None:
        principal = recently_authenticated(ctx, authorization)
        if principal is None:
            principal = await run_in_threadpool(authenticate, ctx, authorization)
        return principal
    csrf = header(scope, CSRF_HEADER.encode())
    unsafe = scope["method"] not in SAFE_METHODS
    cached = studio_sessions.cached_principal(ctx, token)
    if cached is None:
        return await run_in_threadpool(studio_sessions.principal_for, ctx, token, csrf, unsafe=unsafe)
    if unsafe:
        studio_sessions.check_csrf(token, csrf)
    return cached
