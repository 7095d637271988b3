"""What every console page shares: the signed-in viewer, CSRF checks, rendering with the
security headers (a strict Content-Security-Policy: every script, style and request stays
on this origin)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.console.session import (
    SESSION_COOKIE,
    ConsoleSession,
    SessionStore,
    same_secret,
)
from callstream_ingest.errors import ApiError
from callstream_ingest.state import IngestState

HERE = Path(__file__).parent
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class ConsoleState:
    sessions: SessionStore
    templates: Jinja2Templates


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: who they are (role scope) and their session's CSRF token."""

    principal: Principal
    session_id: str
    session: ConsoleSession

    @property
    def is_admin(self) -> bool:
        return self.principal.role == Role.ADMIN

    @property
    def sees_operations(self) -> bool:
        return self.principal.role in (Role.ADMIN, Role.MANAGER)

    @property
    def may_reanalyse(self) -> bool:
        return self.principal.role in (Role.ADMIN, Role.MANAGER)


class SignInRequired(Exception):
    """Raised by a page when there is no valid session; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageNotFound(Exception):
    """Out of scope or missing: the same answer for both, as the API's 404."""


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def ingest_state(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


async def viewer(request: Request) -> Viewer:
    session_id = request.cookies.get(SESSION_COOKIE)
    session = await console_state(request).sessions.load(session_id) if session_id else None
    if session_id is None or session is None:
        raise SignInRequired(request.url.path)
    try:
        who = await ingest_state(request).auth.principal_for_digest(session.credential_digest)
    except ApiError as exc:
        raise SignInRequired(request.url.path) from exc
    return Viewer(principal=who, session_id=session_id, session=session)


SignedIn = Annotated[Viewer, Depends(viewer)]


async def csrf_checked(request: Request, who: SignedIn) -> Viewer:
    """The token comes in a header (htmx and scripts) or a form field (plain forms)."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        field = (await request.form()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not same_secret(given, who.session.csrf_token):
        raise ApiError(403, "csrf_failed", "the form's CSRF token is missing or does not match")
    return who


Changing = Annotated[Viewer, Depends(csrf_checked)]


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request,
    template: str,
    who: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = console_state(request).templates.TemplateResponse(
        request,
        template,
        {"who": who, "csrf_token": who.session.csrf_token if who else None, **context},
        status_code=status_code,
    )
    secured(response)
    return response


def sign_in_url(next_path: str) -> str:
    return "/console/sign-in?next=" + quote(next_path, safe="/")


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto")
    return (forwarded or request.url.scheme) == "https"
