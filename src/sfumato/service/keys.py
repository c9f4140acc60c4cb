"""API keys: 32 random bytes shown once, stored as SHA-256, looked up in constant time."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sfumato.errors import InvalidRequest, NotFound, Unauthorized
from sfumato.service.context import Context
from sfumato.store import accounts, credits
from sfumato.store.models import ApiKey
from sfumato.webhooks import guard, signing

KEY_PREFIX = "sfu_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key it used."""

    account_id: str
    api_key_id: str
    username: str


@dataclass(frozen=True)
class IssuedKey:
    user_id: str
    username: str
    api_key_id: str
    api_key: str
    webhook_secret: str | None = None  # signs this key's webhook events (Standard Webhooks)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    prefix: str
    name: str
    username: str
    user_id: str
    created_at: str
    revoked: bool
    webhook_url: str | None = None
    webhook_disabled: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def issue_key(
    ctx: Context,
    *,
    username: str,
    credits_amount: int | None = None,
    name: str = "default",
    webhook_url: str | None = None,
    webhook_key: str | None = None,
) -> IssuedKey:
    """A new key for ``username``, creating the account (with its starting credits) if needed.

    With ``webhook_url``, every job created with the key ends with a POST to that URL
    (``authorization: Bearer <webhook_key>`` when given), signed with a new secret.
    """
    if not username.strip():
        raise InvalidRequest("username must not be empty")
    if webhook_key is not None and not webhook_url:
        raise InvalidRequest("a webhook key needs a webhook URL")
    if webhook_url:
        check_webhook_url(ctx, webhook_url)
    webhook_secret = signing.new_secret() if webhook_url else None
    plaintext = _new_key()
    with ctx.db.transaction() as session:
        account = accounts.account_by_username(session, username)
        if account is None:
            account = accounts.create_account(
                session, username=username, concurrency_slots=ctx.settings.concurrency_slots
            )
            amount = ctx.settings.default_credits if credits_amount is None else credits_amount
            if amount:
                credits.grant(session, account_id=account.id, amount=amount, note="initial grant")
        elif credits_amount:
            credits.grant(session, account_id=account.id, amount=credits_amount, note="grant with new key")
        key = accounts.add_key(
            session,
            account=account,
            name=name,
            key_hash=hash_key(plaintext),
            key_prefix=plaintext[:12],
            webhook_url=webhook_url.strip() if webhook_url else None,
            webhook_key=webhook_key,
            webhook_secret=webhook_secret,
        )
        return IssuedKey(
            user_id=account.id,
            username=account.username,
            api_key_id=key.id,
            api_key=plaintext,
            webhook_secret=webhook_secret,
        )


def check_webhook_url(ctx: Context, url: str) -> None:
    """Refuse a receiver URL the SSRF guard would refuse at delivery time."""
    try:
        guard.check(url, guard.AllowList.parse(ctx.settings.webhook_allow_hosts))
    except guard.UnsafeUrl as exc:
        raise InvalidRequest(str(exc), code="invalid-webhook-url") from exc


def authenticate(ctx: Context, authorization: str | None) -> Principal:
    token = _bearer_token(authorization)
    digest = hash_key(token)
    cached = ctx.principals.get(digest)
    if cached is not None:
        return cached
    # The lookup is by SHA-256 digest, so timing reveals nothing about the plaintext key.
    with ctx.db.read() as session:
        key = accounts.active_key_by_hash(session, digest)
        if key is None:
            raise Unauthorized("Invalid or revoked API key")
        principal = Principal(account_id=key.account_id, api_key_id=key.id, username=key.account.username)
    ctx.principals.put(digest, principal)
    return principal


def recently_authenticated(ctx: Context, authorization: str | None) -> Principal | None:
    """The caller if its key was confirmed moments ago (no database read); else None."""
    try:
        return ctx.principals.get(hash_key(_bearer_token(authorization)))
    except Unauthorized:
        return None


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Missing authorization header: send 'authorization: Bearer <api key>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Malformed authorization header: expected 'Bearer <api key>'")
    return token


def list_keys(ctx: Context) -> list[KeyInfo]:
    """Every account's keys (the operator's view)."""
    with ctx.db.read() as session:
        return [key_info(k) for k in accounts.list_keys(session)]


def keys_of(ctx: Context, principal: Principal) -> list[KeyInfo]:
    """The caller's own account's keys: prefixes and names, never the keys."""
    with ctx.db.read() as session:
        return [key_info(k) for k in accounts.keys_of(session, principal.account_id)]


def key_info(k: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=k.id,
        prefix=k.key_prefix,
        name=k.name,
        username=k.account.username,
        user_id=k.account_id,
        created_at=k.created_at.isoformat(timespec="seconds"),
        revoked=k.revoked_at is not None,
        webhook_url=k.webhook_url,
        webhook_disabled=k.webhook_disabled_at is not None,
    )


def revoke_key(ctx: Context, key_id_or_prefix: str) -> None:
    with ctx.db.transaction() as session:
        if accounts.revoke_key(session, key_id_or_prefix) is None:
            raise NotFound(f"No API key with id or prefix {key_id_or_prefix!r}")
    ctx.principals.clear()  # this node stops accepting the key now; others within key_cache_seconds


def has_accounts(ctx: Context) -> bool:
    with ctx.db.read() as session:
        return accounts.count_accounts(session) > 0
