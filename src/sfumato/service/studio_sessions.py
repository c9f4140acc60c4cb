"""Studio sign-in: an API key exchanged for a session, so the page never keeps the key.

The session token is 32 random bytes, kept only as its SHA-256 (like keys). The CSRF
token is derived from the session token with HMAC, so it needs no storage of its own:
only whoever holds the session token (the browser, in an HttpOnly cookie the page's
scripts cannot read) can be told it, and the server recomputes it on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sfumato.errors import Forbidden, Unauthorized
from sfumato.service.context import Context
from sfumato.service.keys import Principal, authenticate, hash_key
from sfumato.store import studio_sessions
from sfumato.store.clock import utcnow

_CSRF_PURPOSE = b"sfumato studio csrf"
_CACHE_PREFIX = "studio-session:"  # session digests share the key cache without meeting key digests


@dataclass(frozen=True)
class StudioSession:
    token: str  # goes into the cookie, never into the page
    csrf_token: str  # goes to the page, sent back in a header on every unsafe request
    principal: Principal
    expires_at: datetime


def sign_in(ctx: Context, api_key: str) -> StudioSession:
    """A new session for a valid, unrevoked API key."""
    principal = authenticate(ctx, f"Bearer {api_key.strip()}")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=ctx.settings.studio_session_hours)
    with ctx.db.transaction() as session:
        studio_sessions.create(
            session, token_hash=hash_key(token), api_key_id=principal.api_key_id, expires_at=expires_at
        )
    return StudioSession(token, csrf_token(token), principal, expires_at)


def resume(ctx: Context, token: str | None) -> StudioSession:
    """The live session a cookie names (a reloaded page asks for its CSRF token again)."""
    if not token:
        raise Unauthorized("Not signed in to the studio")
    digest = hash_key(token)
    with ctx.db.read() as session:
        row = studio_sessions.active(session, digest)
        if row is None:
            raise Unauthorized("The studio session has ended; sign in again")
        key = row.api_key
        principal = Principal(account_id=key.account_id, api_key_id=key.id, username=key.account.username)
        expires_at = row.expires_at
    ctx.principals.put(_CACHE_PREFIX + digest, principal)
    return StudioSession(token, csrf_token(token), principal, expires_at)


def principal_for(ctx: Context, token: str, csrf: str | None, *, unsafe: bool) -> Principal:
    """The caller behind a session cookie; a request that changes anything must also carry
    the session's CSRF token, which a page of another site cannot know."""
    principal = cached_principal(ctx, token) or resume(ctx, token).principal
    if unsafe:
        check_csrf(token, csrf)
    return principal


def cached_principal(ctx: Context, token: str) -> Principal | None:
    """The caller if its session was confirmed moments ago (no database read)."""
    return ctx.principals.get(_CACHE_PREFIX + hash_key(token))


def check_csrf(token: str, sent: str | None) -> None:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    if not (sent and hmac.compare_digest(sent.encode(), csrf_token(token).encode())):
        raise Forbidden("Missing or wrong CSRF token: send the studio's X-CSRF-Token header", code="csrf")


def sign_out(ctx: Context, token: str | None) -> None:
    if not token:
        return
    digest = hash_key(token)
    with ctx.db.transaction() as session:
        studio_sessions.end(session, digest)
    ctx.principals.discard(_CACHE_PREFIX + digest)


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()
