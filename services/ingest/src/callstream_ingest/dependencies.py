"""FastAPI dependencies every ingest surface shares: the process state and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callstream_ingest.auth import Principal
from callstream_ingest.state import IngestState

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API credential: `Authorization: Bearer <token>`.",
)


def state(request: Request) -> IngestState:
    ingest: IngestState = request.app.state.ingest
    return ingest


async def principal(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Principal:
    """The caller; ``_declared`` only puts the bearer scheme into the OpenAPI document
    (the authenticator reads the header itself, with its cache and throttle)."""
    return await state(request).auth.principal(request)
