"""S3-style POST policies for the local backend: the fields and checks a bucket applies.

A client that uploads to S3 with a presigned POST sends a form holding the object ``key``,
its ``Content-Type``, a base64 JSON ``policy`` (expiry plus conditions on the other fields
and on the byte size) and a signature over that policy. The local backend hands out and
checks the very same kind of form, so a client cannot tell the two apart — and, unlike the
S3 test servers, it enforces every condition: a tampered field or policy, an expired one,
a changed key or an out-of-range size is refused and nothing is stored.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

POLICY = "policy"
SIGNATURE = "x-sfumato-signature"
KEY = "key"
CONTENT_TYPE = "Content-Type"
FILE = "file"
_SIGNED_PREFIX = b"post-policy\n"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

Mac = Callable[[bytes], str]


class PolicyViolation(Exception):
    """The form does not satisfy its policy, or the policy is not ours or has expired (403)."""


class SizeOutOfRange(Exception):
    """The file is larger or smaller than the policy's content-length-range (400)."""


@dataclass(frozen=True)
class PostPolicy:
    """What one presigned upload allows: one key, one content type, a size range, a deadline."""

    key: str
    content_type: str
    max_bytes: int
    expires: int  # Unix seconds
    min_bytes: int = 1

    def document(self) -> dict[str, object]:
        expiration = datetime.fromtimestamp(self.expires, UTC).strftime(_TIME_FORMAT)
        return {
            "expiration": expiration,
            "conditions": [
                {KEY: self.key},
                {CONTENT_TYPE: self.content_type},
                ["content-length-range", self.min_bytes, self.max_bytes],
            ],
        }


def sign_policy(mac: Mac, policy: PostPolicy) -> dict[str, str]:
    """The form fields a client sends with its file (S3's shape, sfumato's signature)."""
    encoded = base64.b64encode(json.dumps(policy.document(), separators=(",", ":")).encode()).decode()
    return {
        KEY: policy.key,
        CONTENT_TYPE: policy.content_type,
        POLICY: encoded,
        SIGNATURE: mac(_SIGNED_PREFIX + encoded.encode()),
    }


def verify_post(mac: Mac, fields: Mapping[str, str], size: int, *, now: float) -> PostPolicy:
    """Check a received form against its signed policy; the policy when everything holds.

    Raises :class:`PolicyViolation` for a missing, forged, expired or unmet policy (extra
    form fields included, as S3 does) and :class:`SizeOutOfRange` for a file outside the
    allowed byte range.
    """
    encoded, signature = fields.get(POLICY), fields.get(SIGNATURE)
    if not encoded or not signature:
        raise PolicyViolation("the upload form lacks its policy or signature")
    if not hmac.compare_digest(mac(_SIGNED_PREFIX + encoded.encode()), signature):
        raise PolicyViolation("the upload policy's signature does not match")
    policy = _parse(encoded)
    if policy.expires < now:
        raise PolicyViolation("the upload policy has expired; ask for a new upload URL")
    for name, expected in ((KEY, policy.key), (CONTENT_TYPE, policy.content_type)):
        if fields.get(name) != expected:
            raise PolicyViolation(f"invalid according to policy: field {name!r} does not match")
    extra = sorted(set(fields) - {POLICY, SIGNATURE, KEY, CONTENT_TYPE})
    if extra:
        raise PolicyViolation(f"invalid according to policy: extra input fields {', '.join(extra)}")
    if size > policy.max_bytes:
        raise SizeOutOfRange(f"the file is {size} bytes; at most {policy.max_bytes} are allowed")
    if size < policy.min_bytes:
        raise SizeOutOfRange("the file is empty")
    return policy


def _parse(encoded: str) -> PostPolicy:
    """Our own signed document, so a shape error means a bug or a leaked key: refuse alike."""
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
        expires = int(datetime.strptime(document["expiration"], _TIME_FORMAT).replace(tzinfo=UTC).timestamp())
        key_condition, type_condition, (name, low, high) = document["conditions"]
        if name != "content-length-range":
            raise ValueError(name)
        return PostPolicy(
            key=str(key_condition[KEY]),
            content_type=str(type_condition[CONTENT_TYPE]),
            min_bytes=int(low),
            max_bytes=int(high),
            expires=expires,
        )
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise PolicyViolation("the upload policy is malformed") from exc
