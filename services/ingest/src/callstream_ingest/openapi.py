"""The OpenAPI document as the API really behaves: the bearer scheme on every route that
needs a credential, the streamed upload bodies (multipart and raw, which the routes read
themselves and FastAPI therefore cannot see), and every error status a route can answer,
each with the one error shape ``{"error": {"code", "message", "details"?}}``.

The document, ``/docs`` and ``/redoc`` are served without a credential: they describe
the contract and hold no data (README, "API").
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from callstream_ingest.upload.metadata import UploadMetadata

METHODS = ("get", "put", "post", "delete", "patch")
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_MEANINGS = {
    400: "Malformed request (body, multipart, or header)",
    401: "Missing or invalid bearer credential",
    403: "The credential's role may not do this",
    404: "Not found, or outside the caller's scope",
    409: "Conflicts with the resource's current state",
    413: "Larger than the limit",
    415: "Unsupported content or media type",
    422: "Well-formed but invalid values",
    429: "Too many invalid credentials from this address (see Retry-After)",
    503: "A backing service is unavailable; nothing was stored, retry (see Retry-After)",
}
PUBLIC_PATHS = frozenset({"/health"})
"""Every other route needs a credential: a bearer token, or a Slack signature."""
SIGNED_BODY_PREFIXES = ("/slack/",)
"""Routes that read and verify a signed raw body themselves."""
SECURED_ERRORS = (401, 403, 429, 503)
BODY_ERRORS = (400, 413, 415)
EXTRA_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/conversations"): (409,),
    ("post", "/v1/ops/dlq/{entry_id}/replay"): (409, 413),
    ("post", "/v1/ops/dlq/{entry_id}/discard"): (409,),
    ("post", "/v1/conversations/{conversation_id}/reanalyze"): (409,),
    ("post", "/v1/admin/teams"): (409,),
    ("post", "/v1/admin/reps"): (409,),
    ("post", "/v1/admin/users"): (409,),
    ("post", "/v1/slack/users"): (409,),
}
OCTET = {"schema": {"type": "string", "format": "binary"}}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


def _multipart(required: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    properties = {"file": {"type": "string", "format": "binary"}} | fields
    return {"schema": {"type": "object", "required": ["file", *required], "properties": properties}}


def _upload_bodies(paths: dict[str, Any]) -> None:
    meta = UploadMetadata.model_json_schema()
    meta_fields = {k: v for k, v in meta["properties"].items()}
    upload = paths.get("/v1/conversations", {}).get("post")
    if upload is not None:
        upload["requestBody"] = {
            "required": True,
            "description": "The recording: multipart field `file` with the metadata as form "
            "fields, or the raw bytes (any audio content type) with the metadata as query "
            "parameters.",
            "content": {
                "multipart/form-data": _multipart(["opportunity_name"], meta_fields),
                "application/octet-stream": OCTET,
            },
        }
        declared = {p["name"] for p in upload.get("parameters", [])}
        upload.setdefault("parameters", []).extend(
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in meta_fields.items()
            if name not in declared
        )
    parquet = paths.get("/v1/compaction/upload", {}).get("post")
    if parquet is not None:
        parquet["requestBody"] = {
            "required": True,
            "description": "A Parquet file: multipart field `file` or the raw bytes.",
            "content": {
                "multipart/form-data": _multipart([], {}),
                "application/octet-stream": OCTET,
            },
        }


def _errors(method: str, path: str, operation: dict[str, Any]) -> None:
    statuses: set[int] = (
        {422} if operation.get("parameters") or "requestBody" in operation else set()
    )
    authenticated = path not in PUBLIC_PATHS
    if authenticated:
        statuses.update(SECURED_ERRORS)
    if "{" in path or authenticated:
        statuses.add(404)
    if "requestBody" in operation or path.startswith(SIGNED_BODY_PREFIXES):
        statuses.update(BODY_ERRORS)
    statuses.update(EXTRA_ERRORS.get((method, path), ()))
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": ERROR_MEANINGS[status],
            "content": {"application/json": {"schema": ERROR_REF}},
        }


def _health(paths: dict[str, Any]) -> None:
    health = paths.get("/health", {}).get("get")
    if health is not None:
        health["responses"]["503"] = {
            "description": "A dependency is down (same body, status degraded)",
            "content": {"application/json": {"schema": {}}},
        }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs")
    )
    components["ErrorBody"] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components["ErrorBody"].pop("$defs", None)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    paths: dict[str, Any] = schema.get("paths", {})
    _upload_bodies(paths)
    _health(paths)
    for path, item in paths.items():
        for method in METHODS:
            if method in item:
                _errors(method, path, item[method])
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
