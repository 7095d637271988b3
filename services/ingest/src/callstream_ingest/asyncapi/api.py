"""``/asyncapi`` and ``/asyncapi.json``: the Kafka side's AsyncAPI document.

The document is generated from the services' FastStream apps by ``callstream asyncapi``
into this package (ingest imports no other service); a test keeps it current.
Like every API but health it needs a credential (any role: it is the interface any API
client integrates against); ``CALLSTREAM_ASYNCAPI_PUBLIC=true`` opens it, e.g. on an
internal documentation host.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from callstream_ingest.asyncapi.page import render_asyncapi_html
from callstream_ingest.dependencies import principal, state

asyncapi_router = APIRouter()


@cache
def asyncapi_document() -> dict[str, Any]:
    text = (resources.files("callstream_ingest.asyncapi") / "asyncapi.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def asyncapi_html() -> str:
    return render_asyncapi_html(asyncapi_document())


async def authorize(request: Request) -> None:
    if not state(request).settings.asyncapi_public:
        await principal(request)


@asyncapi_router.get("/asyncapi.json", include_in_schema=False)
async def document_json(request: Request) -> JSONResponse:
    await authorize(request)
    return JSONResponse(asyncapi_document())


@asyncapi_router.get("/asyncapi", include_in_schema=False)
async def document_html(request: Request) -> HTMLResponse:
    await authorize(request)
    return HTMLResponse(asyncapi_html())
