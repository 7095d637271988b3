"""Operations (managers read, admins act): dead letters with filters, replay with an
edited payload, discard; job status and per-stage latency; alert rules and history.

Every read and action goes through the ops API's own handlers, so the console enforces
exactly the roles and state checks the API does."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from callstream_common import alert_rules
from callstream_common.db.models import Role
from callstream_ingest.console.web import Changing, SignedIn, ingest_state, render, secured
from callstream_ingest.errors import ApiError
from callstream_ingest.ops.api import (
    ReplayRequest,
    discard_dlq,
    dlq_status,
    jobs_status,
    list_dlq,
    replay_dlq,
    require,
    show_dlq,
)

operations_router = APIRouter(prefix="/console/operations")

DLQ_STATUSES = ("new", "replayed", "discarded")


def back_to(path: str) -> Response:
    return secured(RedirectResponse(path, status_code=303))


@operations_router.get("", include_in_schema=False)
async def operations_page(
    request: Request,
    who: SignedIn,
    stage: str | None = None,
    error_class: str | None = None,
    status: str | None = None,
    notice: str | None = None,
) -> Response:
    require(who.principal, Role.ADMIN, Role.MANAGER)
    filters = {"stage": stage or None, "error_class": error_class or None, "status": status or None}
    dead = await list_dlq(
        request,
        who.principal,
        stage=filters["stage"],
        error_class=filters["error_class"],
        status=filters["status"],
        limit=100,
    )
    dlq = await dlq_status(request, who.principal)
    jobs = await jobs_status(request, who.principal)
    async with ingest_state(request).sessions() as session:
        rules = await alert_rules.alert_rules(session)
        history = await alert_rules.alert_history(session)
    return render(
        request,
        "operations.html",
        who,
        title="Operations",
        active="operations",
        entries=dead["entries"],
        filters=filters,
        dlq=dlq,
        jobs=jobs,
        rules=rules,
        history=history,
        rule_kinds=alert_rules.RULE_KINDS,
        dlq_statuses=DLQ_STATUSES,
        notice=notice,
    )


@operations_router.get("/dlq/{entry_id}", include_in_schema=False)
async def dead_letter_page(request: Request, entry_id: uuid.UUID, who: SignedIn) -> Response:
    entry = await show_dlq(request, entry_id, who.principal)
    return _dead_letter(request, who, entry, None, 200)


def _dead_letter(
    request: Request, who: Any, entry: dict[str, Any], error: str | None, status: int
) -> Response:
    payload = entry.get("payload", entry.get("payload_raw"))
    return render(
        request,
        "dead_letter.html",
        who,
        status_code=status,
        title="Dead letter",
        entry=entry,
        payload_text=json.dumps(payload, indent=2) if "payload" in entry else payload,
        error=error,
    )


@operations_router.post("/dlq/{entry_id}/replay", include_in_schema=False)
async def replay(
    request: Request,
    entry_id: uuid.UUID,
    who: Changing,
    payload: Annotated[str, Form(max_length=5_000_000)] = "",
) -> Response:
    entry = await show_dlq(request, entry_id, who.principal)
    edited: dict[str, Any] | None = None
    if payload.strip():
        try:
            parsed = json.loads(payload)
        except ValueError as exc:
            return _dead_letter(request, who, entry, f"The payload is not valid JSON: {exc}", 422)
        if not isinstance(parsed, dict):
            return _dead_letter(request, who, entry, "The payload must be a JSON object.", 422)
        edited = parsed if parsed != entry.get("payload") else None
    try:
        await replay_dlq(request, entry_id, who.principal, ReplayRequest(payload=edited))
    except ApiError as exc:
        if exc.status in (403, 409):
            return _dead_letter(request, who, entry, exc.message, exc.status)
        if exc.status in (413, 422):
            # The edit was refused before anything changed: the same page again, with the
            # reason next to the payload so the operator can correct it.
            return _dead_letter(request, who, entry, f"Not replayed: {exc.message}", 200)
        raise
    return back_to(f"/console/operations?notice=replayed+{entry_id}")


@operations_router.post("/dlq/{entry_id}/discard", include_in_schema=False)
async def discard(request: Request, entry_id: uuid.UUID, who: Changing) -> Response:
    await discard_dlq(request, entry_id, who.principal)
    return back_to(f"/console/operations?notice=discarded+{entry_id}")


@operations_router.post("/alert-rules", include_in_schema=False)
async def add_rule(
    request: Request,
    who: Changing,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    kind: Annotated[str, Form()],
    threshold: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    dimension: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "warning",
) -> Response:
    require(who.principal, Role.ADMIN)
    if kind not in alert_rules.RULE_KINDS:
        raise ApiError(
            422, "invalid_request", f"kind must be one of {', '.join(alert_rules.RULE_KINDS)}"
        )
    params: dict[str, Any] = {"severity": severity}
    if threshold.strip():
        try:
            params["threshold"] = float(threshold)
        except ValueError as exc:
            raise ApiError(422, "invalid_request", "threshold must be a number") from exc
    if status.strip():
        params["status"] = status.strip()
    if dimension.strip():
        params["dimension"] = dimension.strip()
    async with ingest_state(request).sessions() as session, session.begin():
        added = await alert_rules.add_alert_rule(session, name.strip(), kind, params)
    notice = "rule+added" if added else "a+rule+of+that+name+exists"
    return back_to(f"/console/operations?notice={notice}#alert-rules")


@operations_router.post("/alert-rules/{rule_id}/remove", include_in_schema=False)
async def remove_rule(request: Request, rule_id: uuid.UUID, who: Changing) -> Response:
    require(who.principal, Role.ADMIN)
    async with ingest_state(request).sessions() as session, session.begin():
        outcome = await alert_rules.remove_alert_rule(session, rule_id)
    if outcome is None:
        raise ApiError(404, "not_found", f"alert rule {rule_id} not found")
    return back_to(f"/console/operations?notice=rule+{outcome}#alert-rules")
