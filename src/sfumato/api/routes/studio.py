"""The studio: its page at ``/``, its static files, and the session exchange.

The page signs in by posting an API key once; the answer sets an HttpOnly,
SameSite=Strict cookie (the page never keeps the key) and gives the page the CSRF token
it sends with every unsafe request. From then on the studio calls the same public API
routes as any client (:mod:`sfumato.api.credentials` accepts the cookie there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from sfumato.api.credentials import CSRF_HEADER, SESSION_COOKIE, session_token
from sfumato.api.deps import ContextDep
from sfumato.api.schemas.common import WireModel, timestamp
from sfumato.service import studio_sessions

WEB = Path(__file__).resolve().parents[2] / "web"
ASSETS = "/studio/assets"
SESSION = "/studio/session"

# Scripts and styles only from this server; pictures and uploads may live in a bucket.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https: http:; "
    "media-src 'self' blob: https: http:; connect-src 'self' https: http:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

router = APIRouter(tags=["studio"], include_in_schema=False)


def assets() -> StaticFiles:
    return StaticFiles(directory=WEB)


class SignInBody(WireModel):
    api_key: str = Field(alias="apiKey", min_length=1, max_length=200)


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"})


@router.post(SESSION)
async def sign_in(body: SignInBody, request: Request, response: Response, ctx: ContextDep) -> dict[str, Any]:
    session = await run_in_threadpool(studio_sessions.sign_in, ctx, body.api_key)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(ctx.settings.studio_session_hours * 3600),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return _session_object(session)


@router.get(SESSION)
async def current_session(request: Request, ctx: ContextDep) -> dict[str, Any]:
    session = await run_in_threadpool(studio_sessions.resume, ctx, session_token(request.scope))
    return _session_object(session)


@router.delete(SESSION)
async def sign_out(request: Request, response: Response, ctx: ContextDep) -> dict[str, Any]:
    token = session_token(request.scope)
    if token is not None:
        studio_sessions.check_csrf(token, request.headers.get(CSRF_HEADER))
        await run_in_threadpool(studio_sessions.sign_out, ctx, token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return {"signedOut": True}


def _session_object(session: studio_sessions.StudioSession) -> dict[str, Any]:
    principal = session.principal
    return {
        "csrfToken": session.csrf_token,
        "user": {"id": principal.account_id, "username": principal.username},
        "expiresAt": timestamp(session.expires_at),
    }
