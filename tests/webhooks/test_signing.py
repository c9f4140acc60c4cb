"""Standard Webhooks signatures: what a receiver verifies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from sfumato.webhooks.signing import InvalidSignature, headers, new_secret, verify


def test_signature_is_hmac_sha256_over_id_timestamp_body() -> None:
    secret = new_secret()
    body = b'{"type":"image_generation.complete"}'
    signed = headers(secret, "msg_1", body, timestamp=1_700_000_000)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert signed == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    verify(secret, signed, body, now=1_700_000_010)


def test_tampering_a_wrong_secret_and_stale_timestamps_fail() -> None:
    secret = new_secret()
    body = b'{"a":1}'
    signed = headers(secret, "msg_2", body)
    with pytest.raises(InvalidSignature):
        verify(secret, signed, b'{"a":2}')
    with pytest.raises(InvalidSignature):
        verify(new_secret(), signed, body)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(secret, signed, body, now=time.time() + 3600)
    with pytest.raises(InvalidSignature, match="missing"):
        verify(secret, {"webhook-id": "msg_2"}, body)
    # several signatures (key rotation): any match is enough
    both = {**signed, "webhook-signature": "v1,bm9wZQ== " + signed["webhook-signature"]}
    verify(secret, both, body)
