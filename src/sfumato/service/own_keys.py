"""An account's keys, managed by whoever holds one of them (the studio's Account screen).

A key opens everything its account owns, so its holder may also issue the account another
key, revoke one, or point a key's job events at a webhook receiver. Another account's key
is answered as missing. A new key and a new webhook signing secret are returned once and
never again: only their digests (the key) or the receiver's copy (the secret) remain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sfumato.errors import Conflict, InvalidRequest, NotFound
from sfumato.service.context import Context
from sfumato.service.keys import IssuedKey, KeyInfo, Principal, check_webhook_url, issue_key, key_info
from sfumato.store import accounts
from sfumato.store.models import ApiKey
from sfumato.webhooks import signing


@dataclass(frozen=True)
class Webhook:
    url: str | None
    key: str | None = None  # sent to the receiver as ``authorization: Bearer <key>``


@dataclass(frozen=True)
class KeyChange:
    key: KeyInfo
    webhook_secret: str | None = None  # only when this change made a new one


def create_key(
    ctx: Context, principal: Principal, *, name: str, webhook: Webhook
) -> tuple[KeyInfo, IssuedKey]:
    """Another key for the caller's account (no credits granted), with its receiver if given."""
    if not name.strip():
        raise InvalidRequest("name must not be empty")
    issued = issue_key(
        ctx, username=principal.username, name=name.strip(), webhook_url=webhook.url, webhook_key=webhook.key
    )
    with ctx.db.read() as session:
        key = _own(session, principal, issued.api_key_id)
        return key_info(key), issued


def revoke_key(ctx: Context, principal: Principal, key_id: str) -> KeyChange:
    """Revoke one of the account's keys; its studio sessions end with it."""
    with ctx.db.transaction() as session:
        key = _own(session, principal, key_id)
        accounts.revoke_key(session, key.id)
        info = key_info(key)
    ctx.principals.clear()  # this node stops accepting the key now; others within key_cache_seconds
    return KeyChange(info)


def set_webhook(ctx: Context, principal: Principal, key_id: str, webhook: Webhook) -> KeyChange:
    """Send the key's job events to ``webhook.url`` from now on, or to nowhere (``url`` None).

    The signing secret is kept while the key has one, so a receiver moved to a new URL
    still verifies; a key that had none gets one, returned this once.
    """
    url = webhook.url.strip() if webhook.url else None
    if url:
        check_webhook_url(ctx, url)
    elif webhook.key:
        raise InvalidRequest("a webhook key needs a webhook URL")
    with ctx.db.transaction() as session:
        key = _own(session, principal, key_id)
        if key.revoked_at is not None:
            raise Conflict(f"API key {key_id!r} is revoked", code="key-revoked")
        new_secret = signing.new_secret() if url and not key.webhook_secret else None
        secret = (new_secret or key.webhook_secret) if url else None
        accounts.set_webhook(session, key, url=url, webhook_key=webhook.key if url else None, secret=secret)
        return KeyChange(key_info(key), webhook_secret=new_secret)


def _own(session: Session, principal: Principal, key_id: str) -> ApiKey:
    key = accounts.key_of(session, principal.account_id, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id!r}")
    return key
