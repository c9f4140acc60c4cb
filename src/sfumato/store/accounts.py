"""Accounts and their API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import Account, ApiKey


def create_account(session: Session, *, username: str, concurrency_slots: int) -> Account:
    account = Account(username=username, concurrency_slots=concurrency_slots, credit_balance=0)
    session.add(account)
    session.flush()
    return account


def account_by_username(session: Session, username: str) -> Account | None:
    return session.scalars(select(Account).where(Account.username == username)).first()


def get_account(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def count_accounts(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def add_key(
    session: Session,
    *,
    account: Account,
    name: str,
    key_hash: str,
    key_prefix: str,
    webhook_url: str | None = None,
    webhook_key: str | None = None,
    webhook_secret: str | None = None,
) -> ApiKey:
    key = ApiKey(
        account_id=account.id,
        name=name,
        key_hash=key_hash,
        key_prefix=key_prefix,
        webhook_url=webhook_url,
        webhook_key=webhook_key,
        webhook_secret=webhook_secret,
    )
    session.add(key)
    session.flush()
    return key


def active_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def keys_of(session: Session, account_id: str) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is None:
        matches = list(session.scalars(select(ApiKey).where(ApiKey.key_prefix == key_id)))
        key = matches[0] if len(matches) == 1 else None
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def key_of(session: Session, account_id: str, key_id: str) -> ApiKey | None:
    """One of the account's keys by id (another account's key is as good as missing)."""
    return session.scalars(select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id)).first()


def set_webhook(
    session: Session, key: ApiKey, *, url: str | None, webhook_key: str | None, secret: str | None
) -> ApiKey:
    """Point the key's job events at ``url`` (None: send none); a new receiver starts enabled."""
    key.webhook_url = url
    key.webhook_key = webhook_key
    key.webhook_secret = secret
    key.webhook_disabled_at = None
    session.flush()
    return key
