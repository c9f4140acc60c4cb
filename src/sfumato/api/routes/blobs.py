"""Serves locally stored blobs behind HMAC-signed, expiring URLs."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request, Response

from sfumato.api.deps import ContextDep
from sfumato.blobs import BlobNotFound, LocalBlobStore
from sfumato.blobs.local import ROUTE
from sfumato.errors import Forbidden, NotFound

router = APIRouter(tags=["blobs"])


@router.get(ROUTE + "{key:path}", include_in_schema=False)
def get_blob(key: str, request: Request, ctx: ContextDep) -> Response:
    store = ctx.blobs
    if not isinstance(store, LocalBlobStore):
        raise NotFound("Blobs are served by the bucket, not by this server")
    try:
        expires = int(request.query_params.get("expires", ""))
    except ValueError:
        raise Forbidden("Missing or malformed URL signature") from None
    signature = request.query_params.get("signature", "")
    if not store.signer.verify(request.url.path, expires, signature):
        raise Forbidden("URL signature is invalid or has expired")
    try:
        data = store.get(key)
    except BlobNotFound:
        raise NotFound("No such object") from None
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
