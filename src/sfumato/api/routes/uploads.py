"""The local backend's upload endpoint: S3-style presigned form POSTs, no Authorization header.

The form's signed policy is the only permission, as with a bucket; the checks themselves
are the service's (:func:`sfumato.service.uploads.receive_upload`). This route only bounds
the request before reading it and splits the form into its fields and its file.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sfumato.api.deps import ContextDep
from sfumato.blobs import LocalBlobStore
from sfumato.blobs.local import UPLOAD_ROUTE
from sfumato.blobs.presign import FILE
from sfumato.errors import InvalidRequest, NotFound
from sfumato.service import media, uploads

router = APIRouter(tags=["uploads"])

# Room for the form's own fields and multipart boundaries beside the file.
FORM_OVERHEAD_BYTES = 64 * 1024


@router.post(UPLOAD_ROUTE, include_in_schema=False, status_code=204)
async def upload(request: Request, ctx: ContextDep) -> Response:
    if not isinstance(ctx.blobs, LocalBlobStore):
        raise NotFound("Uploads go to the bucket, not to this server")
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise InvalidRequest("Content-Length is required", code="missing-content-length")
    limit = media.largest_upload(ctx.settings) + FORM_OVERHEAD_BYTES
    if int(length) > limit:
        raise InvalidRequest(f"The upload is larger than {limit} bytes", code="entity-too-large")
    form = await request.form(max_files=1, max_fields=16)
    try:
        fields: dict[str, str] = {}
        file: UploadFile | None = None
        for name, value in form.multi_items():
            if isinstance(value, str):
                if name in fields:
                    raise InvalidRequest(f"The form repeats the field {name!r}")
                fields[name] = value
            elif name == FILE:
                file = value
            else:
                raise InvalidRequest(f"The form's file must be in the field {FILE!r}, not {name!r}")
        if file is None:
            raise InvalidRequest(f"The form has no {FILE!r} field")
        data = await file.read()
    finally:
        await form.close()
    await run_in_threadpool(uploads.receive_upload, ctx, fields, data)
    return Response(status_code=204)
