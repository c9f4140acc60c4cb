"""``/me/api-keys`` (sfumato's addition): the account's keys, listed, issued, revoked, and each
key's webhook receiver set. A new key, and a new webhook signing secret, appear in the answer
that made them and never again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.common import WireModel, compact
from sfumato.service import own_keys
from sfumato.service.keys import KeyInfo, Principal, keys_of

router = APIRouter(tags=["user"])
ROUTE = "/me/api-keys"  # its POST answer holds the new key: never kept for an Idempotency-Key replay


class NewKeyBody(WireModel):
    name: str = Field(min_length=1, max_length=200)
    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2048)
    webhook_key: str | None = Field(default=None, alias="webhookKey", max_length=500)


class WebhookBody(WireModel):
    webhook_url: str | None = Field(alias="webhookUrl", max_length=2048)
    webhook_key: str | None = Field(default=None, alias="webhookKey", max_length=500)


@router.get(ROUTE)
def list_api_keys(ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    """The account's keys by prefix and name, never the keys."""
    return {"api_keys": [key_object(key, principal) for key in keys_of(ctx, principal)]}


@router.post(ROUTE)
def create_api_key(body: NewKeyBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    webhook = own_keys.Webhook(body.webhook_url, body.webhook_key)
    info, issued = own_keys.create_key(ctx, principal, name=body.name, webhook=webhook)
    extra = {"apiKey": issued.api_key, "webhookSecret": issued.webhook_secret}
    return {"api_key": compact({**key_object(info, principal), **extra})}


@router.delete(ROUTE + "/{key_id}")
def revoke_api_key(key_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"api_key": key_object(own_keys.revoke_key(ctx, principal, key_id).key, principal)}


@router.put(ROUTE + "/{key_id}/webhook")
def set_webhook(key_id: str, body: WebhookBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    changed = own_keys.set_webhook(
        ctx, principal, key_id, own_keys.Webhook(body.webhook_url, body.webhook_key)
    )
    return {
        "api_key": compact({**key_object(changed.key, principal), "webhookSecret": changed.webhook_secret})
    }


def key_object(key: KeyInfo, principal: Principal) -> dict[str, Any]:
    return compact(
        {
            "id": key.id,
            "prefix": key.prefix,
            "name": key.name,
            "createdAt": key.created_at,
            "revoked": key.revoked,
            "webhookUrl": key.webhook_url,
            "webhookDisabled": key.webhook_disabled,
            "current": key.id == principal.api_key_id,
        }
    )
