"""FastAPI dependencies every ingest surface shares: the process state and the caller."""

from __future__ import annotations

from fastapi import Request

from callstream_ingest.auth import Principal
from callstream_ingest.state import IngestState


def state(request: Request) -> IngestState:
    ingest: IngestState = request.app.state.ingest
    return ingest


async def principal(request: Request) -> Principal:
    return await state(request).auth.principal(request)
