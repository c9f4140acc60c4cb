"""Blobs in an S3-compatible bucket (AWS S3, MinIO, R2, …) through boto3.

Clients never talk to sfumato for these bytes: they upload with presigned POST forms and
download with presigned GET URLs (or from a public/CDN base URL in front of the bucket),
so the API servers stay out of the data path. Credentials come from boto3's usual chain
(environment, shared config files, instance or task roles); sfumato stores none.

What the bucket enforces of a presigned POST (expiry, key, content type, size range) is the
bucket's job; S3 itself does, some S3-compatible test servers do not. sfumato therefore
re-checks every uploaded object when it is used (size, real decoding, pixel limit).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from sfumato.blobs.base import BlobNotFound, PresignedPost

# SigV4 presigned URLs live at most seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        public_url: str | None = None,
        url_ttl_seconds: int = MAX_PRESIGN_SECONDS,
        client: Any = None,
    ) -> None:
        """``endpoint_url`` names a non-AWS service; such endpoints get path-style addressing,
        which works for loopback and IP endpoints where bucket subdomains cannot resolve."""
        self.bucket = bucket
        self.public_url = public_url.rstrip("/") if public_url else None
        self.url_ttl_seconds = min(url_ttl_seconds, MAX_PRESIGN_SECONDS)
        self._client = client if client is not None else _client(endpoint_url, region)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            _raise_if_missing(exc, key)
            raise
        body: bytes = response["Body"].read()
        return body

    def size(self, key: str) -> int:
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            _raise_if_missing(exc, key)
            raise

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def url(self, key: str) -> str:
        if self.public_url:
            return f"{self.public_url}/{quote(key)}"
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_ttl_seconds
        )
        return url

    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        post = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=min(expires_in, MAX_PRESIGN_SECONDS),
        )
        return PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})

    def check(self) -> None:
        self._client.head_bucket(Bucket=self.bucket)


def _client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    addressing = "path" if endpoint_url else "auto"
    config = Config(signature_version="s3v4", s3={"addressing_style": addressing})
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _raise_if_missing(exc: ClientError, key: str) -> None:
    """botocore's "no such object" becomes BlobNotFound; any other error stays what it is."""
    if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
        raise BlobNotFound(key) from exc
