"""The local backend's POST policies: what is signed is exactly what is allowed."""

from __future__ import annotations

import base64
import json

import pytest

from sfumato.blobs.presign import PolicyViolation, PostPolicy, SizeOutOfRange, sign_policy, verify_post
from sfumato.blobs.signing import UrlSigner

MAC = UrlSigner(b"secret", 60).mac
POLICY = PostPolicy(
    key="init-images/a/1.png", content_type="image/png", max_bytes=1000, expires=2_000_000_000
)


def test_signed_fields_verify() -> None:
    fields = sign_policy(MAC, POLICY)
    assert fields["key"] == POLICY.key and fields["Content-Type"] == "image/png"
    assert verify_post(MAC, fields, 500, now=1_000_000_000) == POLICY


def test_policy_document_reads_like_s3s() -> None:
    document = json.loads(base64.b64decode(sign_policy(MAC, POLICY)["policy"]))
    assert document["expiration"] == "2033-05-18T03:33:20Z"
    assert ["content-length-range", 1, 1000] in document["conditions"]
    assert {"key": POLICY.key} in document["conditions"]


@pytest.mark.parametrize(
    ("change", "now"),
    [
        ({"key": "init-images/b/2.png"}, 0),
        ({"Content-Type": "text/html"}, 0),
        ({"x-extra": "1"}, 0),
        ({"x-sfumato-signature": "f" * 64}, 0),
        ({}, 2_000_000_001),  # expired
    ],
)
def test_violations(change: dict[str, str], now: int) -> None:
    fields = {**sign_policy(MAC, POLICY), **change}
    with pytest.raises(PolicyViolation):
        verify_post(MAC, fields, 500, now=now)


def test_another_servers_signature_is_refused() -> None:
    fields = sign_policy(UrlSigner(b"other", 60).mac, POLICY)
    with pytest.raises(PolicyViolation, match="signature"):
        verify_post(MAC, fields, 500, now=0)


def test_size_range() -> None:
    fields = sign_policy(MAC, POLICY)
    verify_post(MAC, fields, 1000, now=0)
    with pytest.raises(SizeOutOfRange):
        verify_post(MAC, fields, 1001, now=0)
    with pytest.raises(SizeOutOfRange):
        verify_post(MAC, fields, 0, now=0)


def test_a_url_signature_is_not_a_policy_signature() -> None:
    """The same key signs image URLs; a URL signature must never pass as a policy's."""
    fields = sign_policy(MAC, POLICY)
    url_signature = MAC(fields["policy"].encode())
    with pytest.raises(PolicyViolation):
        verify_post(MAC, {**fields, "x-sfumato-signature": url_signature}, 500, now=0)
