"""Blob storage behind one interface: a local directory or an S3-compatible bucket."""

from sfumato.blobs.base import BlobNotFound, BlobStore, PresignedPost
from sfumato.blobs.local import LocalBlobStore
from sfumato.blobs.signing import UrlSigner

__all__ = ["BlobNotFound", "BlobStore", "LocalBlobStore", "PresignedPost", "UrlSigner"]
