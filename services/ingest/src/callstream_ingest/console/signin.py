"""Sign-in with a callstream bearer credential, sign-out.

The credential travels once, in a POSTed form body (never a URL), is hashed at once and
never stored or logged; the browser gets only an opaque session id in an HttpOnly,
SameSite=Lax cookie (Secure over HTTPS). The sign-in form itself is protected by a
double-submit CSRF token, since there is no session yet to hold one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from callstream_common.credentials import hash_token
from callstream_ingest.console.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    new_secret,
    same_secret,
)
from callstream_ingest.console.web import (
    Changing,
    console_state,
    ingest_state,
    is_https,
    render,
    secured,
)
from callstream_ingest.errors import ApiError

signin_router = APIRouter()


def safe_next(next_path: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if next_path and next_path.startswith("/console") and "//" not in next_path:
        return next_path
    return "/console/"


def sign_in_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    token = new_secret()
    response = render(
        request,
        "signin.html",
        None,
        status_code=status,
        login_csrf=token,
        next_path=safe_next(next_path),
        error=error,
        title="Sign in",
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/console/sign-in",
    )
    return response


@signin_router.get("/console/sign-in", include_in_schema=False)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return sign_in_page(request, next or "/console/", None, 200)


@signin_router.post("/console/sign-in", include_in_schema=False)
async def sign_in(
    request: Request,
    credential: Annotated[str, Form(max_length=512)] = "",
    login_csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/console/",
) -> Response:
    if not same_secret(login_csrf, request.cookies.get(LOGIN_CSRF_COOKIE) or "\0"):
        return sign_in_page(request, next, "The form expired; please sign in again.", 403)
    digest = hash_token(credential.strip())
    try:
        await ingest_state(request).auth.principal_for_digest(digest)
    except ApiError:
        return sign_in_page(request, next, "That credential is not valid.", 401)
    session_id, _ = await console_state(request).sessions.create(digest)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=console_state(request).sessions.lifetime_seconds,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/sign-in")
    return secured(response)


@signin_router.post("/console/sign-out", include_in_schema=False)
async def sign_out(request: Request, who: Changing) -> Response:
    await console_state(request).sessions.end(who.session_id)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return secured(response)
