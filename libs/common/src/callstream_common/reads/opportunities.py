"""Opportunities: found or created from uploads, listed, and shown with the MEDDIC picture
of the deal across its calls."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.contracts import MeddicDimension
from callstream_common.reads.conversations import QUALIFICATION_SQL, SCORE_SQL, scope_sql
from callstream_common.reads.deals import CallSnapshot, DealPicture, DimensionSnapshot, deal_picture
from callstream_common.reads.filters import Sort, decode_cursor, encode_cursor
from callstream_common.reads.rows import mapped, one_snapshot
from callstream_common.reads.scope import Scope

PRICING_QUERY = "price | pricing | cost | budget | discount | quote | licence | license"


def match_key(rep_id: str, name: str, company: str | None) -> str:
    """What makes two uploads the same deal: the rep, the name and the company, with case
    and surrounding spaces ignored."""
    return f"{rep_id}|{name.strip().lower()}|{(company or '').strip().lower()}"


async def upsert_opportunity(
    session: AsyncSession, rep_id: str, name: str, company: str | None
) -> uuid.UUID:
    """The opportunity of (rep, name, company), created if new, in the caller's transaction."""
    return uuid.UUID(
        str(
            (
                await session.execute(
                    text(
                        "INSERT INTO opportunities (id, rep_id, name, company_name, match_key, "
                        "last_call_at) VALUES (:id, :rep, :name, :company, :key, now()) "
                        "ON CONFLICT (match_key) DO UPDATE SET last_call_at = now(), "
                        "updated_at = now() RETURNING id"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "rep": rep_id,
                        "name": name.strip(),
                        "company": company,
                        "key": match_key(rep_id, name, company),
                    },
                )
            ).scalar_one()
        )
    )


class OpportunityRef(BaseModel):
    id: uuid.UUID
    rep_id: str
    name: str
    company_name: str | None


FIND_REF_SQL = "SELECT o.id, o.rep_id, o.name, o.company_name FROM opportunities o WHERE {where}"
TOUCH_REF_SQL = (
    "UPDATE opportunities o SET last_call_at = now(), updated_at = now() "
    "WHERE {where} RETURNING o.id, o.rep_id, o.name, o.company_name"
)


async def _opportunity_ref(
    session: AsyncSession, scope: Scope, opportunity_id: uuid.UUID, statement: str
) -> OpportunityRef | None:
    """The one row ``statement`` returns for the opportunity inside ``scope`` (its
    ``{where}`` is the id and the scope), or None."""
    where, params = scope_sql(scope, "o")
    row = (
        await mapped(
            session,
            statement.format(where=f"o.id = :id AND {where}"),
            params | {"id": opportunity_id},
        )
    ).first()
    return OpportunityRef.model_validate(dict(row)) if row is not None else None


async def find_opportunity(
    session: AsyncSession, scope: Scope, opportunity_id: uuid.UUID
) -> OpportunityRef | None:
    """The opportunity if it exists inside ``scope``."""
    return await _opportunity_ref(session, scope, opportunity_id, FIND_REF_SQL)


async def touch_opportunity(
    session: AsyncSession, scope: Scope, opportunity_id: uuid.UUID
) -> OpportunityRef | None:
    """An explicit opportunity of an upload: None if unknown or outside ``scope``."""
    return await _opportunity_ref(session, scope, opportunity_id, TOUCH_REF_SQL)


class OpportunityItem(BaseModel):
    id: uuid.UUID
    name: str
    company_name: str | None
    rep_id: str
    calls: int
    latest_overall_score: float | None
    latest_qualification_status: str | None
    last_call_at: datetime | None
    created_at: datetime


class OpportunityPage(BaseModel):
    items: list[OpportunityItem]
    next_cursor: str | None
    limit: int


async def list_opportunities(
    session: AsyncSession,
    scope: Scope,
    rep_id: str | None,
    limit: int,
    cursor: str | None,
) -> OpportunityPage:
    """Most recently active first (keyset on ``(last_call_at, id)``)."""
    where, params = scope_sql(scope, "o")
    clauses = [where, "o.last_call_at IS NOT NULL"]
    fingerprint = f"opp:{scope.key}:{rep_id or ''}"
    if rep_id is not None:
        clauses.append("o.rep_id = :rep_id")
        params["rep_id"] = rep_id
    if cursor:
        value, last_id = decode_cursor(cursor, fingerprint, Sort.NEWEST)
        clauses.append("(o.last_call_at, o.id) < (:after_value, :after_id)")
        params |= {"after_value": value, "after_id": last_id}
    rows = (
        await mapped(
            session,
            "SELECT o.id, o.name, o.company_name, o.rep_id, o.last_call_at, o.created_at, "
            "s.calls, l.overall_score AS latest_overall_score, "
            "l.qualification_status AS latest_qualification_status "
            "FROM opportunities o "
            "CROSS JOIN LATERAL (SELECT count(*) AS calls FROM conversations c "
            "  WHERE c.opportunity_id = o.id) s "
            "LEFT JOIN LATERAL (SELECT "
            f"  {SCORE_SQL} AS overall_score, {QUALIFICATION_SQL} AS qualification_status "
            "  FROM conversations c WHERE c.opportunity_id = o.id "
            "  AND c.analysis_summary IS NOT NULL "
            "  ORDER BY c.created_at DESC, c.id DESC LIMIT 1) l ON TRUE "
            f"WHERE {' AND '.join(clauses)} "
            "ORDER BY o.last_call_at DESC, o.id DESC LIMIT :limit_plus",
            params | {"limit_plus": limit + 1},
        )
    ).all()
    items = [OpportunityItem.model_validate(dict(r)) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and items and items[-1].last_call_at is not None:
        next_cursor = encode_cursor(fingerprint, Sort.NEWEST, items[-1].last_call_at, items[-1].id)
    return OpportunityPage(items=items, next_cursor=next_cursor, limit=limit)


class OpportunityCall(BaseModel):
    id: uuid.UUID
    title: str | None
    status: str
    overall_score: float | None
    qualification_status: str | None
    created_at: datetime


class OpportunityDetail(BaseModel):
    id: uuid.UUID
    name: str
    company_name: str | None
    rep_id: str
    team_id: str | None
    created_at: datetime
    last_call_at: datetime | None
    calls: list[OpportunityCall]
    picture: DealPicture


def _snapshot(row: Any) -> CallSnapshot:
    dims = [
        DimensionSnapshot(
            dimension=MeddicDimension(d["dimension"]),
            score=int(d["score"]),
            evidence=d.get("evidence") or [],
            gaps=d.get("gaps") or [],
        )
        for d in (row["dimensions"] or [])
    ]
    return CallSnapshot(
        conversation_id=row["id"],
        created_at=row["created_at"],
        title=row["title"],
        status=row["status"],
        overall_score=row["overall_score"],
        qualification_status=row["qualification_status"],
        dimensions=dims,
        risks=row["risks"] or [],
        next_steps=row["next_steps"] or [],
        pricing_discussed=bool(row["pricing_discussed"]),
    )


async def opportunity_detail(
    session: AsyncSession, scope: Scope, opportunity_id: uuid.UUID
) -> OpportunityDetail | None:
    await one_snapshot(session)
    where, params = scope_sql(scope, "o")
    opp = (
        await mapped(
            session,
            "SELECT o.*, r.team_id FROM opportunities o "
            "LEFT JOIN reps r ON r.id = o.rep_id "
            f"WHERE o.id = :id AND {where}",
            params | {"id": opportunity_id},
        )
    ).first()
    if opp is None:
        return None
    rows = (
        await mapped(
            session,
            "SELECT c.id, c.title, c.status, c.created_at, a.overall_score, "
            "a.qualification_status, a.dimensions, a.risks, a.next_steps, "
            "coalesce(t.search @@ to_tsquery('english', :pricing), false) "
            "AS pricing_discussed "
            "FROM conversations c "
            "LEFT JOIN meddic_analyses a ON a.conversation_id = c.id "
            "LEFT JOIN transcripts t ON t.conversation_id = c.id "
            "WHERE c.opportunity_id = :id ORDER BY c.created_at, c.id",
            {"id": opportunity_id, "pricing": PRICING_QUERY},
        )
    ).all()
    snapshots = [_snapshot(r) for r in rows]
    return OpportunityDetail(
        id=opp["id"],
        name=opp["name"],
        company_name=opp["company_name"],
        rep_id=opp["rep_id"],
        team_id=opp["team_id"],
        created_at=opp["created_at"],
        last_call_at=opp["last_call_at"],
        calls=[
            OpportunityCall(
                id=s.conversation_id,
                title=s.title,
                status=s.status,
                overall_score=s.overall_score,
                qualification_status=s.qualification_status,
                created_at=s.created_at,
            )
            for s in snapshots
        ],
        picture=deal_picture(snapshots),
    )
