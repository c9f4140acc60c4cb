"""Blob storage behind one interface: local directory now, S3-compatible buckets alike."""

from sfumato.blobs.base import BlobNotFound, BlobStore
from sfumato.blobs.local import LocalBlobStore
from sfumato.blobs.signing import UrlSigner

__all__ = ["BlobNotFound", "BlobStore", "LocalBlobStore", "UrlSigner"]
