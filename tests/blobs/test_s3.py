"""S3BlobStore against a real S3-protocol server on loopback (moto)."""

from __future__ import annotations

import httpx
import pytest

from sfumato.blobs import BlobNotFound
from sfumato.blobs.s3 import S3BlobStore
from sfumato.config import Settings
from sfumato.runtime import build_blob_store


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import uuid

    import boto3

    from tests.conftest import S3_ENV

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    name = f"sfumato-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def test_put_get_size_url_delete(bucket: str, s3_endpoint: str) -> None:
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint, region="us-east-1", url_ttl_seconds=60)
    store.check()
    store.put("a/b.png", b"pixels", "image/png")
    assert store.get("a/b.png") == b"pixels" and store.size("a/b.png") == 6 and store.exists("a/b.png")
    response = httpx.get(store.url("a/b.png"))  # presigned: no credentials needed
    assert response.status_code == 200 and response.content == b"pixels"
    assert response.headers["content-type"] == "image/png"
    store.delete("a/b.png")
    store.delete("a/b.png")  # absent keys are not an error
    assert not store.exists("a/b.png")
    with pytest.raises(BlobNotFound):
        store.get("a/b.png")
    with pytest.raises(BlobNotFound):
        store.size("a/b.png")


def test_public_url_serves_from_a_cdn_base(bucket: str, s3_endpoint: str) -> None:
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint, public_url="https://cdn.example.com/media/")
    assert store.url("generations/x/0.png") == "https://cdn.example.com/media/generations/x/0.png"


def test_presigned_post_uploads(bucket: str, s3_endpoint: str) -> None:
    store = S3BlobStore(bucket, endpoint_url=s3_endpoint, region="us-east-1")
    post = store.presign_post("up/1.png", content_type="image/png", max_bytes=1000, expires_in=60)
    assert post.url == f"{s3_endpoint}/{bucket}"
    assert post.fields["key"] == "up/1.png" and post.fields["Content-Type"] == "image/png"
    response = httpx.post(post.url, data=post.fields, files={"file": ("x.png", b"data")})
    assert response.status_code == 204
    assert store.get("up/1.png") == b"data"


def test_missing_bucket_is_a_readiness_failure(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import S3_ENV

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Exception):  # noqa: B017 - botocore's ClientError, whatever its code
        S3BlobStore("no-such-bucket-here", endpoint_url=s3_endpoint).check()


def test_s3_backend_needs_a_bucket(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="SFUMATO_S3_BUCKET"):
        build_blob_store(Settings(blob_backend="s3"))
